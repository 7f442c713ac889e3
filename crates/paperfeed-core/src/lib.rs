//! paperfeed's domain: arXiv ids, papers and the pure rules over them (merging what sources
//! say, text normalisation, feed periods, account fields, the trending score).
//!
//! This crate does no I/O, has no async code and knows no database or HTTP types: everything
//! here is a value and a function over values, so every rule can be unit-tested directly.

mod account;
mod arxiv_id;
mod author_name;
mod avatar;
mod citation;
mod digest_period;
mod feed;
mod follow;
mod frequency;
pub mod library;
mod markup;
mod mute;
mod paging;
mod paper;
mod period;
pub mod references;
mod text;
mod trending;
mod webhook_target;

pub use account::{EmailAddress, FieldError, Password, Username};
pub use arxiv_id::{ArxivId, ArxivIdError, VersionedArxivId};
pub use author_name::{AuthorKey, MAX_AUTHOR_KEY_CHARS, folded_words};
pub use avatar::{AVATAR_COLOURS, Avatar};
pub use citation::{
    CslDate, CslItem, CslName, arxiv_doi, bibtex, cite_key, csl_item, openurl_kev, ris,
};
pub use digest_period::DigestPeriod;
pub use feed::{FeedEntry, one_per_paper, sort_trending, trending};
pub use follow::{
    FollowKind, FollowTarget, IndexEntry, IndexKind, MAX_CATEGORY_CHARS, MAX_ORGANIZATION_CHARS,
    category_name, index_entries, listing_time, organization_name,
};
pub use frequency::{Frequency, FrequencyError};
pub use library::{CollectionName, Note, ReadingState};
pub use markup::escape_html;
pub use mute::{
    MAX_MUTE_CHARS, MAX_MUTES, MuteError, MuteKind, MuteSet, MuteText, author_key, check_mute,
    mute_matches_nothing,
};
pub use paging::{CARD_ABSTRACT_CHARS, FEED_PAGE_SIZE, PageError, Paging, cut_at_word};
pub use paper::{
    Author, Featuring, NewPaper, Organization, Paper, PaperVersion, Submitter, UpsertOutcome,
    embedding_text, fingerprint, merge,
};
pub use period::{Period, PeriodError};
pub use text::{normalize_text, normalize_title};
pub use trending::{ARCHIVE_CLOCK_HOURS, TrendingClock, TrendingTerms, trending_score};
pub use webhook_target::is_internal_address;
