//! A reader's library: saving papers (with a reading state and a private note), named
//! collections (private unless made public) and importing a reference list into one
//! ([`import`]). Who is asking and how often is the edge's business; what each act means,
//! what it refuses and the limits that bound one reader's library are here.
//!
//! Limits (documented on the pages and in the API): [`MAX_SAVED_PAPERS`] saved papers,
//! [`MAX_COLLECTIONS`] collections, [`MAX_COLLECTION_PAPERS`] papers per collection, notes of
//! at most [`Note::MAX_CHARS`] characters, names of at most [`CollectionName::MAX_CHARS`].

pub mod import;

use chrono::{DateTime, Utc};
use paperfeed_core::library::{MAX_COLLECTION_PAPERS, MAX_COLLECTIONS, MAX_SAVED_PAPERS};
use paperfeed_core::{ArxivId, CollectionName, FieldError, Note, ReadingState};
use paperfeed_store::{
    Added, Collection, CollectionChange, SavedPaperChange, SeenReason, Store, StoreError, User,
    UserId,
};

/// Why a library act did not go through.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// There is no such paper on this hub.
    #[error("paper {0} is not on this hub")]
    NoSuchPaper(ArxivId),
    /// No collection by that id that the asker may see (or change): said the same way whether
    /// it does not exist or is someone else's private one.
    #[error("there is no such collection")]
    NoSuchCollection,
    /// A name, note or state that does not parse.
    #[error("{}: {}", .0.field, .0.reason)]
    Invalid(FieldError),
    /// A limit of the library is reached.
    #[error("{what}: at most {limit} allowed")]
    TooMany { what: &'static str, limit: u64 },
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl LibraryError {
    /// The input field the refusal is about, for the API's `parameter`.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            LibraryError::Invalid(e) => Some(e.field),
            _ => None,
        }
    }
}

/// Saves `paper` to `user`'s library: true when newly saved, false when it was already.
pub async fn save_paper(
    store: &dyn Store,
    user: &User,
    paper: &ArxivId,
    now: DateTime<Utc>,
) -> Result<bool, LibraryError> {
    if store.saved_paper(user.id, paper).await?.is_some() {
        return Ok(false);
    }
    if store.count_saved(user.id).await? >= MAX_SAVED_PAPERS {
        return Err(LibraryError::TooMany {
            what: "saved papers",
            limit: MAX_SAVED_PAPERS,
        });
    }
    let added = store
        .save_paper(user.id, paper, now)
        .await?
        .ok_or_else(|| LibraryError::NoSuchPaper(paper.clone()))?;
    // A saved paper counts as seen (issue 16: personal feeds can hide what was seen).
    crate::visibility::mark_seen(store, user.id, paper, SeenReason::Saved).await?;
    tracing::debug!(user.id = user.id.0, paper.id = %paper, "paper saved");
    Ok(added)
}

/// Removes `paper` (and its note) from `user`'s library; false when it was not there.
pub async fn unsave_paper(
    store: &dyn Store,
    user: &User,
    paper: &ArxivId,
) -> Result<bool, LibraryError> {
    Ok(store.unsave_paper(user.id, paper).await?)
}

/// Sets the reading state and/or the note (Markdown, as typed) of a paper in `user`'s library,
/// saving it first when it is not there yet.
pub async fn update_saved_paper(
    store: &dyn Store,
    user: &User,
    paper: &ArxivId,
    state: Option<ReadingState>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), LibraryError> {
    let note = note
        .map(Note::parse)
        .transpose()
        .map_err(LibraryError::Invalid)?;
    save_paper(store, user, paper, now).await?;
    let change = SavedPaperChange {
        state,
        note: note.map(Note::into_string),
    };
    store
        .update_saved_paper(user.id, paper, change, now)
        .await?;
    Ok(())
}

/// A new private collection of `user`'s named `raw_name`.
pub async fn create_collection(
    store: &dyn Store,
    user: &User,
    raw_name: &str,
    now: DateTime<Utc>,
) -> Result<Collection, LibraryError> {
    let name = CollectionName::parse(raw_name).map_err(LibraryError::Invalid)?;
    if store.collections(user.id).await?.len() >= MAX_COLLECTIONS {
        return Err(LibraryError::TooMany {
            what: "collections",
            limit: MAX_COLLECTIONS as u64,
        });
    }
    let collection = store.create_collection(user.id, name.as_str(), now).await?;
    tracing::debug!(
        user.id = user.id.0,
        collection.id = collection.id,
        "collection created"
    );
    Ok(collection)
}

/// Collection `id` if `viewer` may read it: its owner always, anyone when it is public.
/// Anything else is [`LibraryError::NoSuchCollection`], so a private collection's existence
/// is not revealed.
pub async fn visible_collection(
    store: &dyn Store,
    viewer: Option<UserId>,
    id: i64,
) -> Result<Collection, LibraryError> {
    match store.collection(id).await? {
        Some(c) if c.public || Some(c.owner) == viewer => Ok(c),
        _ => Err(LibraryError::NoSuchCollection),
    }
}

/// Collection `id` if it is `user`'s own.
pub async fn own_collection(
    store: &dyn Store,
    user: &User,
    id: i64,
) -> Result<Collection, LibraryError> {
    match store.collection(id).await? {
        Some(c) if c.owner == user.id => Ok(c),
        _ => Err(LibraryError::NoSuchCollection),
    }
}

/// Renames `user`'s collection and/or makes it public or private.
pub async fn change_collection(
    store: &dyn Store,
    user: &User,
    id: i64,
    raw_name: Option<&str>,
    public: Option<bool>,
    now: DateTime<Utc>,
) -> Result<(), LibraryError> {
    let name = raw_name
        .map(CollectionName::parse)
        .transpose()
        .map_err(LibraryError::Invalid)?;
    let change = CollectionChange {
        name: name.map(|n| n.as_str().to_owned()),
        public,
    };
    if store.update_collection(user.id, id, change, now).await? {
        Ok(())
    } else {
        Err(LibraryError::NoSuchCollection)
    }
}

/// Deletes `user`'s collection (the list, not the papers).
pub async fn delete_collection(
    store: &dyn Store,
    user: &User,
    id: i64,
) -> Result<(), LibraryError> {
    if store.delete_collection(user.id, id).await? {
        Ok(())
    } else {
        Err(LibraryError::NoSuchCollection)
    }
}

/// Adds one paper to `user`'s collection: true when added, false when it was there already.
pub async fn add_to_collection(
    store: &dyn Store,
    user: &User,
    id: i64,
    paper: &ArxivId,
    now: DateTime<Utc>,
) -> Result<bool, LibraryError> {
    let collection = own_collection(store, user, id).await?;
    if collection.papers >= MAX_COLLECTION_PAPERS {
        return Err(LibraryError::TooMany {
            what: "papers in a collection",
            limit: MAX_COLLECTION_PAPERS,
        });
    }
    let added = store
        .add_to_collection(user.id, id, std::slice::from_ref(paper), now)
        .await?
        .ok_or(LibraryError::NoSuchCollection)?;
    match added.first() {
        Some(Added::Added) => Ok(true),
        Some(Added::AlreadyThere) => Ok(false),
        _ => Err(LibraryError::NoSuchPaper(paper.clone())),
    }
}

/// Removes one paper from `user`'s collection; false when it was not in it.
pub async fn remove_from_collection(
    store: &dyn Store,
    user: &User,
    id: i64,
    paper: &ArxivId,
) -> Result<bool, LibraryError> {
    own_collection(store, user, id).await?;
    Ok(store.remove_from_collection(user.id, id, paper).await?)
}

#[cfg(test)]
mod tests;
