//! The reader's "for you" picks as a section of their digest: when a subscriber is a reader
//! (the account with the subscriber's address) who turned the choice on
//! (`crate::recommend::set_digest_picks`), their digest gets up to that many of their
//! recommendations, each with its reason in one line.
//!
//! The picks follow the outbox's rules like every paper of the letter: recorded mailed with
//! the digest, in the transaction that records it sent (`MailStore::finish_digest_with_matches`),
//! and marked seen (mailed) for the reader after, so each is mailed once; a digest that does
//! not go out records nothing and its retry picks again. Left out: what the recommender never
//! picks (what the reader signalled, muted, dismissed or saw), what was mailed to the
//! subscriber before, and what the letter already carries. Paused recommendations, or a reader
//! with nothing to learn from yet, give no section.

use std::collections::HashSet;

use paperfeed_core::ArxivId;
use paperfeed_store::{Database, UserId};

use crate::recommend::{ForYou, ForYouItem, MAX_PICKS, RecommendError, Recommender};

/// Up to the reader's chosen number of picks for subscriber `subscriber`'s letter, none when
/// the choice is off or the recommender has nothing; `taken` (papers the letter carries or the
/// subscriber was mailed) grows with each pick.
pub async fn picks(
    recommender: &Recommender,
    store: &dyn Database,
    reader: UserId,
    subscriber: i64,
    taken: &mut HashSet<ArxivId>,
) -> Result<Vec<ForYouItem>, RecommendError> {
    let Some(choice) = store.for_you_digest(reader).await? else {
        return Ok(Vec::new());
    };
    let wanted = usize::from(choice.picks);
    // Room for the picks the letter or an earlier mail already has.
    let asked = (wanted * 2 + taken.len()).min(MAX_PICKS);
    let items = match recommender.for_you(store, reader, asked).await?.result {
        ForYou::Picks(items) => items,
        ForYou::Paused | ForYou::ColdStart => return Ok(Vec::new()),
        ForYou::Warming => {
            tracing::warn!(
                user.id = reader.0,
                "the recommender is still reading the hub: no For you section this time"
            );
            return Ok(Vec::new());
        }
    };
    let ids: Vec<ArxivId> = items.iter().map(|i| i.paper.id.clone()).collect();
    let mailed: HashSet<ArxivId> = store
        .mailed_papers(subscriber, &ids)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(wanted);
    for item in items {
        if out.len() == wanted {
            break;
        }
        if !mailed.contains(&item.paper.id) && taken.insert(item.paper.id.clone()) {
            out.push(item);
        }
    }
    Ok(out)
}
