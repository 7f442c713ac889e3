//! A real SMTP server on loopback for the use cases' unit tests: it speaks enough SMTP for
//! lettre (the [`paperfeed_mail::Mailer`] under test) to deliver, keeps every message it
//! accepts, and refuses recipients whose address contains a chosen marker with a permanent
//! `550`, and, while told to be busy, every recipient with a temporary `451`. Blocking I/O on a thread of its own, so it needs no runtime features.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// One accepted message: its recipients and its raw text (headers and body, dot-unstuffed).
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// The message as a mail client shows its parts: quoted-printable undone (soft line breaks
    /// joined, `=XX` bytes decoded as UTF-8).
    pub fn decoded(&self) -> String {
        let joined = self.data.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

pub(crate) struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    busy: Arc<AtomicBool>,
}

impl SmtpSink {
    /// Accepts every recipient.
    pub fn start() -> Self {
        Self::refusing("\u{0}")
    }

    /// Answers `550` to recipients whose address contains `marker`.
    pub fn refusing(marker: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the SMTP sink");
        let port = listener.local_addr().expect("the sink's address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        let busy = Arc::new(AtomicBool::new(false));
        let is_busy = Arc::clone(&busy);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                let busy = Arc::clone(&is_busy);
                std::thread::spawn(move || {
                    // A broken conversation is the client's failure to report, not ours.
                    let _ = converse(stream, marker, &busy, &kept);
                });
            }
        });
        Self {
            port,
            received,
            busy,
        }
    }

    /// While `busy`, every recipient gets `451` (try again later).
    pub fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mailer(&self) -> paperfeed_mail::Mailer {
        paperfeed_mail::Mailer::from_url(&self.url(), Duration::from_secs(5))
            .expect("the sink's URL is an SMTP URL")
    }

    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Recipients of the messages kept, sorted.
    pub fn recipients(&self) -> Vec<String> {
        let mut to: Vec<String> = self.received().into_iter().flat_map(|m| m.to).collect();
        to.sort();
        to
    }

    /// The message kept for `rcpt` (empty when there is none).
    pub fn message_to(&self, rcpt: &str) -> String {
        self.received()
            .into_iter()
            .find(|m| m.to.iter().any(|to| to == rcpt))
            .map(|m| m.data)
            .unwrap_or_default()
    }
}

fn converse(
    stream: TcpStream,
    refuse: &str,
    busy: &AtomicBool,
    received: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => out.write_all(b"250 sink\r\n")?,
            "MAIL" | "RSET" | "NOOP" => {
                if verb != "NOOP" {
                    to.clear();
                }
                out.write_all(b"250 ok\r\n")?;
            }
            "RCPT" => {
                let address = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map_or("", |(address, _)| address);
                if busy.load(Ordering::SeqCst) {
                    out.write_all(b"451 4.3.0 try again later\r\n")?;
                } else if address.contains(refuse) {
                    out.write_all(b"550 5.1.1 no such mailbox\r\n")?;
                } else {
                    to.push(address.to_owned());
                    out.write_all(b"250 ok\r\n")?;
                }
            }
            "DATA" => {
                out.write_all(b"354 end with .\r\n")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                received
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Received {
                        to: std::mem::take(&mut to),
                        data,
                    });
                out.write_all(b"250 queued\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 not implemented\r\n")?,
        }
    }
}
