//! What the use cases' tests share: a real SQLite store in a temporary folder, users in it,
//! papers to put in it.

use paperfeed_core::{ArxivId, Author, EmailAddress, NewPaper, Password, Username};
use paperfeed_store::{SqliteStore, Store, User};

use crate::accounts::{NewAccount, create_user};
use crate::metrics::{IngestCounts, Metrics, SmtpFailure};

/// The password of every [`user`].
pub(crate) const PASSWORD: &str = "correct horse battery";

/// A fresh store; it lives as long as the folder.
pub(crate) async fn sqlite_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await
        .unwrap()
        .unwrap();
    (dir, store)
}

/// The account `name` (`name@example.org`, [`PASSWORD`]).
pub(crate) fn account(name: &str, is_admin: bool) -> NewAccount {
    NewAccount {
        username: Username::parse(name).unwrap(),
        email: EmailAddress::parse(&format!("{name}@example.org")).unwrap(),
        password: Password::parse(PASSWORD).unwrap(),
        is_admin,
    }
}

/// The user `name`, created in `store`.
pub(crate) async fn user(store: &dyn Store, name: &str, is_admin: bool) -> User {
    create_user(store, account(name, is_admin), chrono::Utc::now())
        .await
        .unwrap()
}

/// A paper with only the required fields.
pub(crate) fn paper(id: &str, title: &str, abstract_text: &str) -> NewPaper {
    NewPaper::new(
        ArxivId::parse(id).unwrap(),
        title.into(),
        abstract_text.into(),
        vec![Author::named("Ada Lovelace")],
    )
}

/// Counts SMTP failures by kind, as the web's registry would.
#[derive(Default)]
pub(crate) struct SmtpFailures(std::sync::Mutex<Vec<SmtpFailure>>);

impl SmtpFailures {
    pub(crate) fn kinds(&self) -> Vec<SmtpFailure> {
        self.0.lock().unwrap().clone()
    }
}

impl Metrics for SmtpFailures {
    fn record_ingest(&self, _: &str, _: IngestCounts) {}

    fn record_smtp_failure(&self, kind: SmtpFailure) {
        self.0.lock().unwrap().push(kind);
    }
}
