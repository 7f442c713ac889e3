//! Page handlers, one module per kind of page.

pub mod account;
pub mod account_data;
pub mod community;
pub mod feed;
pub mod feeds;
pub mod health;
pub mod misc;
pub mod paper;
pub mod search;
pub mod subscription;
