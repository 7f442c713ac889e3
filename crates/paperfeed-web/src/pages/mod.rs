//! Page handlers, one module per kind of page.

pub mod account;
pub mod account_data;
pub mod community;
pub mod feed;
pub mod feeds;
pub mod follows;
pub mod health;
pub mod library;
pub mod misc;
pub mod mutes;
pub mod paper;
pub mod recommend;
pub mod saved_searches;
pub mod search;
pub mod sign_in;
pub mod subscription;
