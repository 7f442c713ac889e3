//! paperfeed's application layer: one function (or small service) per use case that both the
//! web and the CLI run — submit a paper, vote, comment, subscribe, send a period's digests,
//! harvest a source, keep the index caught up, search. Each takes typed inputs and a small typed
//! config (never `Settings` or clap types), talks to the parts (store, search, mail) through
//! their traits, and returns a domain result or a domain error. Edges stay thin: parse, call,
//! render.

pub mod account_data;
pub mod accounts;
pub mod community;
pub mod digests;
pub mod feed_tokens;
pub mod follows;
pub mod harvest;
pub mod identity;
pub mod indexing;
pub mod library;
pub mod metrics;
pub mod recommend;
pub mod saved_searches;
pub mod search;
#[cfg(test)]
mod smtp_sink;
pub mod submit;
pub mod subscriptions;
pub mod suggest;
#[cfg(test)]
mod test_support;
pub mod thumbnails;
pub mod visibility;
