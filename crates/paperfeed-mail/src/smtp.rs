//! SMTP delivery through lettre, with failures sorted into "try again later" and "this address
//! does not take mail".

use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport as _, Message, Tokio1Executor};

/// The SMTP URL could not be used; the message never includes the password.
#[derive(Debug, thiserror::Error)]
#[error("SMTP URL {shown}: {reason}")]
pub struct SmtpUrlError {
    shown: String,
    reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// 4xx replies, timeouts, refused or dropped connections: the same mail may go later.
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// 5xx replies: the server will not take this mail.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// `smtp://user:secret@host:25` with the password replaced, for messages and logs.
pub fn mask_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer")
    }
}

impl Mailer {
    /// From `smtp://host:port` (plain), `smtp+starttls://user:pass@host:port` (STARTTLS
    /// required) or `smtps://user:pass@host:port` (implicit TLS).
    pub fn from_url(url: &str, timeout: std::time::Duration) -> Result<Self, SmtpUrlError> {
        let fail = |reason: String| SmtpUrlError {
            shown: mask_password(url),
            reason,
        };
        let lettre_url = if let Some(rest) = url.strip_prefix("smtp+starttls://") {
            let sep = if rest.contains('?') { '&' } else { '?' };
            format!("smtp://{rest}{sep}tls=required")
        } else if url.starts_with("smtp://") || url.starts_with("smtps://") {
            url.to_owned()
        } else {
            return Err(fail(
                "use smtp://host:port, smtp+starttls://user:pass@host:port or smtps://user:pass@host:port"
                    .to_owned(),
            ));
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url)
            .map_err(|e| fail(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        Ok(Self { transport })
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // Replies often quote the recipient; the reason ends up in logs and the outbox.
            Err(e) if e.is_permanent() => Err(SendError::Permanent(crate::redact_addresses(
                &e.to_string(),
            ))),
            Err(e) => Err(SendError::Temporary(crate::redact_addresses(
                &e.to_string(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_messages() {
        assert_eq!(
            mask_password("smtp+starttls://ada:s3cret@mail.example:587"),
            "smtp+starttls://ada:***@mail.example:587"
        );
        assert_eq!(
            mask_password("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525"
        );
        let err = Mailer::from_url("ftp://ada:s3cret@x", std::time::Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn the_three_url_forms_build_a_transport() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp+starttls://ada:pw@127.0.0.1:587",
            "smtps://ada:pw@127.0.0.1:465",
        ] {
            assert!(
                Mailer::from_url(url, std::time::Duration::from_secs(1)).is_ok(),
                "{url}"
            );
        }
    }
}
