//! A paper as citation managers import it: BibTeX, RIS and CSL-JSON, each written the way arXiv
//! entries are expected (`@misc` with `eprint`, `archivePrefix`, `primaryClass`; arXiv's DataCite
//! DOI `10.48550/arXiv.<id>`). Text is untrusted: every writer keeps it inside its field.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::{Paper, normalize_text};

/// arXiv's DataCite DOI for a paper (every arXiv id has one).
pub fn arxiv_doi(paper: &Paper) -> String {
    format!("10.48550/arXiv.{}", paper.id)
}

/// The day a citation dates the paper by: its arXiv publication, else its first featured day.
fn issued(paper: &Paper) -> Option<NaiveDate> {
    paper
        .published_at
        .map(|at| at.date_naive())
        .or_else(|| paper.featured.iter().map(|f| f.date).min())
}

/// Visible authors' names, whitespace collapsed.
fn author_names(paper: &Paper) -> Vec<String> {
    paper
        .authors
        .iter()
        .filter(|a| !a.hidden)
        .map(|a| one_line(&a.name))
        .filter(|n| !n.is_empty())
        .collect()
}

/// Text on one line: arXiv's hard wraps and any control character become single spaces.
fn one_line(text: &str) -> String {
    let normal = normalize_text(text);
    // Normalised text is single-spaced words; only a paragraph break or a control character
    // (C0, DEL, or C1, whose UTF-8 starts with 0xC2) is left to replace. Most names and titles
    // have none, and a list page writes every author of every card.
    if !normal.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        return normal;
    }
    normal
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A BibTeX key: the first author's family name in ASCII letters, the year, and the id
/// (`vaswani2017_1706.03762`), so keys are readable and never collide.
pub fn cite_key(paper: &Paper) -> String {
    let family: String = author_names(paper)
        .first()
        .and_then(|n| n.rsplit(' ').next().map(str::to_owned))
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let year = issued(paper)
        .map(|d| d.year().to_string())
        .unwrap_or_default();
    let id: String = paper
        .id
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let family = if family.is_empty() {
        "arxiv".to_owned()
    } else {
        family
    };
    format!("{family}{year}_{id}")
}

/// A value inside BibTeX braces. TeX that arrived balanced (`$O(n^2)$`, `{BERT}`) is kept, as
/// arXiv's own export keeps it; characters LaTeX would take as commands are escaped; and when
/// braces do not balance, each becomes a command, since BibTeX counts `\{` as a brace too and an
/// unbalanced one would end the field early.
fn bibtex_value(text: &str) -> String {
    let text = one_line(text);
    let mut depth = 0_i64;
    let balanced = text.chars().all(|c| {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        depth >= 0
    }) && depth == 0;
    let mut out = String::with_capacity(text.len());
    let mut previous = ' ';
    for c in text.chars() {
        match c {
            '{' if !balanced => out.push_str("\\textbraceleft{}"),
            '}' if !balanced => out.push_str("\\textbraceright{}"),
            '&' | '%' | '#' if previous != '\\' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("{@}"),
            _ => out.push(c),
        }
        previous = c;
    }
    out
}

/// One `@misc` entry.
pub fn bibtex(paper: &Paper) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        // Double braces keep the title's capitals as written.
        ("title", format!("{{{}}}", bibtex_value(&paper.title))),
        (
            "author",
            author_names(paper)
                .iter()
                .map(|n| bibtex_value(n))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    ];
    if let Some(day) = issued(paper) {
        fields.push(("year", day.year().to_string()));
        fields.push(("month", month_abbreviation(day.month()).to_owned()));
    }
    fields.push(("eprint", paper.id.to_string()));
    fields.push(("archivePrefix", "arXiv".to_owned()));
    if let Some(primary) = paper.categories.first() {
        fields.push(("primaryClass", bibtex_value(primary)));
    }
    fields.push(("doi", arxiv_doi(paper)));
    fields.push(("url", paper.id.abs_url()));
    if !paper.abstract_text.trim().is_empty() {
        fields.push(("abstract", bibtex_value(&paper.abstract_text)));
    }
    let mut out = format!("@misc{{{},\n", cite_key(paper));
    for (name, value) in fields {
        out.push_str(&format!("  {name} = {{{value}}},\n"));
    }
    out.push_str("}\n");
    out
}

fn month_abbreviation(month: u32) -> &'static str {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS[(month.clamp(1, 12) - 1) as usize]
}

/// One RIS record (`TY  - UNPB`, an unpublished work: a preprint), ending with `ER  - `.
pub fn ris(paper: &Paper) -> String {
    let mut lines = vec![("TY", "UNPB".to_owned()), ("TI", one_line(&paper.title))];
    for name in author_names(paper) {
        lines.push(("AU", ris_name(&name)));
    }
    if let Some(day) = issued(paper) {
        lines.push(("PY", day.year().to_string()));
        lines.push(("DA", day.format("%Y/%m/%d").to_string()));
    }
    if !paper.abstract_text.trim().is_empty() {
        lines.push(("AB", one_line(&paper.abstract_text)));
    }
    for category in &paper.categories {
        lines.push(("KW", one_line(category)));
    }
    lines.push(("PB", "arXiv".to_owned()));
    lines.push(("DO", arxiv_doi(paper)));
    lines.push(("UR", paper.id.abs_url()));
    lines.push(("L1", paper.id.pdf_url()));
    lines.push(("N1", format!("arXiv:{}", paper.id)));
    let mut out = String::new();
    for (tag, value) in lines {
        out.push_str(&format!("{tag}  - {value}\r\n"));
    }
    out.push_str("ER  - \r\n");
    out
}

/// `Family, Given` as RIS readers expect; a one-word name as it is.
fn ris_name(name: &str) -> String {
    match name.rsplit_once(' ') {
        Some((given, family)) => format!("{family}, {given}"),
        None => name.to_owned(),
    }
}

/// A CSL-JSON item (the format of citeproc and Zotero's API).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CslItem {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub author: Vec<CslName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<CslDate>,
    #[serde(rename = "abstract", skip_serializing_if = "Option::is_none")]
    pub abstract_text: Option<String>,
    pub publisher: &'static str,
    pub number: String,
    #[serde(rename = "DOI")]
    pub doi: String,
    #[serde(rename = "URL")]
    pub url: String,
}

/// A person's name, split the way CSL wants it; `literal` when it has one word.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CslName {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CslDate {
    #[serde(rename = "date-parts")]
    pub date_parts: Vec<[i32; 3]>,
}

/// The paper as one CSL-JSON item (`type: article`, published by arXiv, numbered by its id).
pub fn csl_item(paper: &Paper) -> CslItem {
    CslItem {
        id: cite_key(paper),
        kind: "article",
        title: one_line(&paper.title),
        author: author_names(paper)
            .into_iter()
            .map(|name| match name.rsplit_once(' ') {
                Some((given, family)) => CslName {
                    family: Some(family.to_owned()),
                    given: Some(given.to_owned()),
                    literal: None,
                },
                None => CslName {
                    family: None,
                    given: None,
                    literal: Some(name),
                },
            })
            .collect(),
        issued: issued(paper).map(|d| CslDate {
            #[expect(clippy::cast_possible_wrap, reason = "months and days are at most 31")]
            date_parts: vec![[d.year(), d.month() as i32, d.day() as i32]],
        }),
        abstract_text: Some(one_line(&paper.abstract_text)).filter(|a| !a.is_empty()),
        publisher: "arXiv",
        number: paper.id.to_string(),
        doi: arxiv_doi(paper),
        url: paper.id.abs_url(),
    }
}

/// The paper as an OpenURL ContextObject in KEV form, for COinS (`<span class="Z3988"
/// title="…">`), which Zotero's connector reads from list pages.
pub fn openurl_kev(paper: &Paper) -> String {
    // Every card of a list page carries one, so it is written straight into one buffer.
    let mut out = String::with_capacity(256 + paper.title.len() * 2);
    let mut pair = |key: &str, value: &str| {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        kev_encode_into(&mut out, value);
    };
    pair("ctx_ver", "Z39.88-2004");
    pair("rft_val_fmt", "info:ofi/fmt:kev:mtx:journal");
    pair("rft.genre", "preprint");
    pair("rft.atitle", &one_line(&paper.title));
    pair("rft.jtitle", "arXiv");
    for name in author_names(paper) {
        pair("rft.au", &name);
    }
    if let Some(day) = issued(paper) {
        pair("rft.date", &day.format("%Y-%m-%d").to_string());
    }
    pair("rft_id", &format!("info:arxiv/{}", paper.id));
    pair("rft_id", &paper.id.abs_url());
    out
}

/// Appends `value` percent-encoded for a KEV value: everything but unreserved characters,
/// UTF-8 bytes.
fn kev_encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArxivId, Author, NewPaper, merge};

    fn paper(title: &str, authors: &[&str]) -> Paper {
        let mut new = NewPaper::new(
            ArxivId::parse("2401.12345").expect("valid id"),
            title.to_owned(),
            "We study\nthings & stuff at 100% {effort}.".to_owned(),
            authors.iter().map(|a| Author::named(*a)).collect(),
        );
        new.categories = vec!["cs.CL".into(), "cs.LG".into()];
        new.published_at = Some("2024-01-22T18:00:00Z".parse().expect("valid time"));
        merge(None, new)
    }

    #[test]
    fn a_bibtex_entry_is_an_arxiv_misc_with_eprint_and_primary_class() {
        let entry = bibtex(&paper(
            "Attention Is {All} You Need",
            &["Ashish Vaswani", "Noam Shazeer"],
        ));
        assert!(
            entry.starts_with("@misc{vaswani2024_2401.12345,\n"),
            "{entry}"
        );
        for field in [
            "  title = {{Attention Is {All} You Need}},\n",
            "  author = {Ashish Vaswani and Noam Shazeer},\n",
            "  year = {2024},\n",
            "  month = {jan},\n",
            "  eprint = {2401.12345},\n",
            "  archivePrefix = {arXiv},\n",
            "  primaryClass = {cs.CL},\n",
            "  doi = {10.48550/arXiv.2401.12345},\n",
            "  url = {https://arxiv.org/abs/2401.12345},\n",
            "  abstract = {We study things \\& stuff at 100\\% {effort}.},\n",
        ] {
            assert!(entry.contains(field), "{field:?} missing from {entry}");
        }
    }

    #[test]
    fn an_unbalanced_brace_cannot_end_a_bibtex_field() {
        let entry = bibtex(&paper("x}, note = {pwned", &["A B"]));
        let title = entry
            .lines()
            .find(|l| l.contains("title"))
            .expect("a title line");
        assert_eq!(
            title,
            "  title = {{x\\textbraceright{}, note = \\textbraceleft{}pwned}},"
        );
    }

    #[test]
    fn a_ris_record_has_one_line_per_field_and_ends_with_er() {
        let record = ris(&paper(
            "A title\nover two lines",
            &["Ada Lovelace", "Plato"],
        ));
        let lines: Vec<&str> = record.split("\r\n").collect();
        assert_eq!(lines[0], "TY  - UNPB");
        assert!(lines.contains(&"TI  - A title over two lines"));
        assert!(lines.contains(&"AU  - Lovelace, Ada"));
        assert!(lines.contains(&"AU  - Plato"));
        assert!(lines.contains(&"DA  - 2024/01/22"));
        assert!(lines.contains(&"KW  - cs.CL"));
        assert!(lines.contains(&"DO  - 10.48550/arXiv.2401.12345"));
        assert_eq!(lines[lines.len() - 2], "ER  - ");
    }

    #[test]
    fn coins_carry_each_author_and_the_arxiv_id_percent_encoded() {
        let kev = openurl_kev(&paper("Ünïcode & more", &["Ada Lovelace", "Plato"]));
        assert!(kev.starts_with("ctx_ver=Z39.88-2004&rft_val_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Ajournal&rft.genre=preprint&"));
        assert!(
            kev.contains("&rft.atitle=%C3%9Cn%C3%AFcode%20%26%20more&"),
            "{kev}"
        );
        assert!(
            kev.contains("&rft.au=Ada%20Lovelace&rft.au=Plato&"),
            "{kev}"
        );
        assert!(kev.contains("&rft.date=2024-01-22&"), "{kev}");
        assert!(kev.contains("&rft_id=info%3Aarxiv%2F2401.12345&"), "{kev}");
    }

    #[test]
    fn a_csl_item_splits_names_and_dates() {
        let item = csl_item(&paper("T", &["Ada Lovelace", "Plato"]));
        assert_eq!(item.author[0].family.as_deref(), Some("Lovelace"));
        assert_eq!(item.author[0].given.as_deref(), Some("Ada"));
        assert_eq!(item.author[1].literal.as_deref(), Some("Plato"));
        assert_eq!(item.issued.expect("a date").date_parts, vec![[2024, 1, 22]]);
        assert_eq!(item.number, "2401.12345");
    }
}
