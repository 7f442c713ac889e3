//! paperfeed's one integration-test binary: drives the real `paperfeed` executable (ingest,
//! config) and the real server (pages over HTTP, headless Chromium), as a user would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

mod accessibility;
mod account_data;
mod api;
mod backup;
mod browser;
mod browser_recommend;
mod cards;
mod citations;
mod cli_config;
mod cli_harvest;
mod cli_ingest;
mod community;
mod digest;
mod feeds;
mod follows;
mod for_you_digest;
mod harness;
mod header;
mod hf_client;
mod html_validity;
mod library;
mod model_hub;
mod mutes;
mod ops;
mod page_cache;
mod pages;
mod postgres;
mod recommendations;
mod saved_searches;
mod schemathesis;
mod search;
mod sign_in;
mod spelling_and_suggestions;
mod systemd;
mod two_nodes;
mod vectors;
