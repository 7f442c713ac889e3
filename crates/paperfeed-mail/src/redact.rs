//! Mail addresses out of text that goes to logs: SMTP replies and errors often quote the
//! recipient (`550 5.1.1 <ada@example.org>: no such user`), and logs must not hold addresses.

/// Replaces the local part of every address-like `local@domain.tld` in `text` with `***`,
/// keeping the domain (which server refused is still worth knowing).
pub fn redact_addresses(text: &str) -> String {
    let is_local = |c: char| c.is_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let (before, after) = rest.split_at(at);
        let after = &after[1..];
        let local_start = before
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_local(c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let domain_len = after
            .char_indices()
            .find(|&(_, c)| !is_domain(c))
            .map_or(after.len(), |(i, _)| i);
        let domain = &after[..domain_len];
        if local_start < before.len() && domain.trim_end_matches('.').contains('.') {
            out.push_str(&before[..local_start]);
            out.push_str("***@");
        } else {
            out.push_str(before);
            out.push('@');
        }
        out.push_str(domain);
        rest = &after[domain_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_their_local_part_and_everything_else_stays() {
        assert_eq!(
            redact_addresses("550 5.1.1 <ada.l+x@example.org>: no such user"),
            "550 5.1.1 <***@example.org>: no such user"
        );
        assert_eq!(redact_addresses("a@b.c and d@e.f"), "***@b.c and ***@e.f");
        assert_eq!(
            redact_addresses("no address @ here, user@localhost"),
            "no address @ here, user@localhost"
        );
        assert_eq!(redact_addresses("trailing@"), "trailing@");
        assert_eq!(redact_addresses("ünï@exämple.org"), "***@exämple.org");
    }
}
