//! Email digests: the mail stage of the pipeline, as `paperfeed digest run` and the scheduler
//! in `serve` run it.
//!
//! A run queues one job per confirmed subscriber for the period (a unique key in the store),
//! then workers claim jobs one at a time under a lease, build that subscriber's digest, send
//! it and mark it sent together with the papers it carried. Killed at any point, a rerun
//! queues nothing new and sends only the jobs not marked sent.
//!
//! Each run registers with the store as a claimer holding a lock that dies with its process
//! (`MailStore::register_claimer`), and its claims record it. So a rerun right after a crash
//! takes over the dead run's claimed jobs at once and finishes the period; a run that ends
//! while another live run still holds jobs of the period says so
//! ([`RunReport::held_elsewhere`]); a claim's lease is only the fallback for a claimer whose
//! death cannot be seen.
//!
//! Stopping (the `stop` token): workers finish the message in hand and claim no more, so a
//! stopped run leaves no job claimed.
//!
//! - [`selection`]: which papers a subscriber's digest carries;
//! - [`topics`]: the reader's saved searches as sections, each match mailed once;
//! - [`for_you`]: the reader's recommendations as a section, when they chose it;
//! - [`letter`]: one subscriber's digest as a mail;
//! - [`run`]: one run (queue, claim, send, tally);
//! - [`scheduler`]: the daily schedule of `serve`, its leases and sweeps.

pub mod for_you;
pub mod letter;
pub mod run;
pub mod scheduler;
pub mod selection;
pub mod topics;

pub use run::{DigestConfig, RunMode, RunReport, preview, run_period};
pub use scheduler::{ScheduleConfig, current_periods, next_run, period_lease, schedule};
