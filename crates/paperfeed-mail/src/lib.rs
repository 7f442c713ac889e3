//! Email for paperfeed: signed links that need no login ([`LinkSigner`]), the messages
//! ([`compose`]: the digest and the confirmation mail, multipart text + HTML with inline CSS),
//! and SMTP delivery ([`Mailer`]) that tells temporary failures from permanent ones.
//!
//! It reads no configuration of its own: the binary hands it an SMTP URL, a signing key and
//! the hub's public address.

pub mod compose;
mod redact;
mod smtp;
mod token;

pub use redact::redact_addresses;
pub use smtp::{Mailer, SendError, SmtpUrlError, mask_password};
pub use token::{InvalidLink, LinkPurpose, LinkSigner};
