//! Saved searches as digest topics, end to end: a reader saves a search, papers arrive, the real
//! matcher records them, and digest runs mail them through the loopback SMTP sink — under the
//! search's name, each paper once, never a muted or dismissed one, nothing twice on a re-run.

use paperfeed_core::{Frequency, MuteKind};
use paperfeed_store::{SavedSearch, Store, User, WriteMode};

use super::tests::{Hub, day};
use super::*;
use crate::metrics::NoMetrics;
use crate::saved_searches::{self, SearchSpec};
use crate::test_support::{paper, user};
use crate::visibility::{add_mute, dismiss};

/// Ada's digest: her account's address, daily, about a topic none of the featured papers has,
/// so whatever her mails carry comes from her saved searches.
async fn ada_with_a_search(query: &str) -> (Hub, User, SavedSearch) {
    let hub = Hub::start(
        &[("ada@example.org", &["quantum"], 10)],
        Arc::new(NoMetrics),
    )
    .await;
    let ada = user(store_of(&hub), "ada", false).await;
    let spec = SearchSpec::parse(query, "keyword", "").unwrap();
    let search =
        saved_searches::save_search(store_of(&hub), ada.id, "My diffusion", &spec, Utc::now())
            .await
            .unwrap();
    (hub, ada, search)
}

fn store_of(hub: &Hub) -> &dyn Store {
    &*hub.store
}

/// Stores new papers (`id`, `title`) and lets the matcher look at them, as the indexer does
/// after each pass.
async fn arrive(hub: &Hub, papers: &[(&str, &str)]) {
    let new = papers
        .iter()
        .map(|(id, title)| paper(id, title, "An abstract long enough to be shown."))
        .collect();
    hub.store
        .upsert_papers(new, WriteMode::Commit)
        .await
        .unwrap();
    saved_searches::match_new_papers(store_of(hub), Utc::now())
        .await
        .unwrap();
}

fn period(days_later: i64) -> DigestPeriod {
    DigestPeriod::new(Frequency::Daily, day() + chrono::Duration::days(days_later))
}

async fn send(hub: &Hub, days_later: i64) -> RunReport {
    hub.send(
        &period(days_later),
        RunMode::QueueAndSend,
        &CancellationToken::new(),
    )
    .await
}

/// The mails the sink kept, each decoded as a reader's client shows it.
fn mails(hub: &Hub) -> Vec<String> {
    hub.sink.received().iter().map(|m| m.decoded()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_match_is_mailed_under_the_search_name_once_and_never_again() {
    let (hub, _ada, _search) = ada_with_a_search("diffusion").await;
    arrive(&hub, &[("2612.00010", "Latent diffusion for audio")]).await;

    let first = send(&hub, 0).await;
    assert_eq!(first.sent, 1, "{}", first.summary);
    let mail = &mails(&hub)[0];
    assert!(mail.contains("From your saved searches"), "{mail}");
    let section = mail
        .split("“My diffusion”")
        .nth(1)
        .unwrap_or_else(|| panic!("no section named after the search: {mail}"));
    assert!(section.contains("Latent diffusion for audio"), "{mail}");
    assert!(
        section.contains("https://papers.example.test/papers/2612.00010"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: Daily Papers: 1 new match of your saved searches"),
        "{mail}"
    );

    let again = send(&hub, 0).await;
    assert_eq!(again.sent, 0, "a re-run of the period: {}", again.summary);
    assert_eq!(hub.sink.received().len(), 1, "nothing twice");

    arrive(&hub, &[("2612.00011", "Diffusion on graphs")]).await;
    send(&hub, 1).await;
    let mails = mails(&hub);
    assert_eq!(mails.len(), 2);
    assert!(mails[1].contains("Diffusion on graphs"), "{}", mails[1]);
    assert!(
        !mails[1].contains("Latent diffusion for audio"),
        "mailed once, never again: {}",
        mails[1]
    );

    let quiet = send(&hub, 2).await;
    assert_eq!(quiet.sent, 0, "nothing new: no mail: {}", quiet.summary);
    assert_eq!(hub.sink.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_and_dismissed_matches_are_never_mailed() {
    let (hub, ada, _search) = ada_with_a_search("diffusion").await;
    add_mute(
        store_of(&hub),
        ada.id,
        MuteKind::Keyword,
        "audio",
        Utc::now(),
    )
    .await
    .unwrap();
    arrive(
        &hub,
        &[
            ("2612.00010", "Latent diffusion for audio"),
            ("2612.00011", "Diffusion on graphs"),
            ("2612.00012", "Diffusion for weather"),
        ],
    )
    .await;
    dismiss(
        store_of(&hub),
        ada.id,
        &ArxivId::parse("2612.00012").unwrap(),
        Utc::now(),
    )
    .await
    .unwrap();

    send(&hub, 0).await;
    let mail = &mails(&hub)[0];
    assert!(mail.contains("Diffusion on graphs"), "{mail}");
    assert!(
        !mail.contains("Latent diffusion for audio"),
        "muted: {mail}"
    );
    assert!(!mail.contains("Diffusion for weather"), "dismissed: {mail}");
    assert!(!mail.contains(" more"), "nothing is left to count: {mail}");
    assert!(
        hub.store
            .digest_matches(ada.id, 10)
            .await
            .unwrap()
            .is_empty(),
        "the left-out matches are settled with the rest"
    );

    // Withheld is settled too: they do not wait in the next digests.
    arrive(&hub, &[("2612.00013", "Diffusion for chemistry")]).await;
    send(&hub, 1).await;
    let next = &mails(&hub)[1];
    assert!(next.contains("Diffusion for chemistry"), "{next}");
    assert!(
        !next.contains("audio") && !next.contains("weather"),
        "{next}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_a_search_off_removes_its_section_and_keeps_its_matches_for_later() {
    let (hub, ada, search) = ada_with_a_search("diffusion").await;
    let off = saved_searches::set_in_digest(store_of(&hub), ada.id, search.id, false)
        .await
        .unwrap();
    assert!(!off.in_digest);
    arrive(&hub, &[("2612.00010", "Latent diffusion for audio")]).await;
    let report = send(&hub, 0).await;
    assert_eq!(
        report.sent, 0,
        "her topic matches nothing featured and the search is off: {}",
        report.summary
    );

    saved_searches::set_in_digest(store_of(&hub), ada.id, search.id, true)
        .await
        .unwrap();
    send(&hub, 1).await;
    let mail = &mails(&hub)[0];
    assert!(
        mail.contains("“My diffusion”") && mail.contains("Latent diffusion for audio"),
        "on again, what it matched meanwhile comes: {mail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_section_shows_a_few_papers_counts_the_rest_and_a_featured_paper_comes_once() {
    // Ada's topics match everything featured: "Robot grasping with diffusion policies" is
    // in the trending list and, changed after her search was saved, also one of its matches.
    let hub = Hub::start(&[("ada@example.org", &[], 10)], Arc::new(NoMetrics)).await;
    let ada = user(store_of(&hub), "ada", false).await;
    let spec = SearchSpec::parse("diffusion", "keyword", "").unwrap();
    let search = saved_searches::save_search(store_of(&hub), ada.id, "Diff", &spec, Utc::now())
        .await
        .unwrap();
    let papers: Vec<(String, String)> = (20..28)
        .map(|n| {
            (
                format!("2612.000{n}"),
                format!("Diffusion study number {n}"),
            )
        })
        .collect();
    let mut arriving: Vec<(&str, &str)> = papers
        .iter()
        .map(|(id, t)| (id.as_str(), t.as_str()))
        .collect();
    arriving.push(("2611.00003", "Robot grasping with diffusion policies"));
    arrive(&hub, &arriving).await;

    send(&hub, 0).await;
    let mail = &mails(&hub)[0];
    let section = mail
        .split("From your saved searches")
        .nth(1)
        .unwrap_or_else(|| panic!("{mail}"));
    let shown = (20..28)
        .filter(|n| section.contains(&format!("Diffusion study number {n}")))
        .count();
    assert_eq!(shown, topics::PAPERS_PER_SEARCH, "{mail}");
    let rest = 8 - topics::PAPERS_PER_SEARCH;
    let link = format!(
        "https://papers.example.test{}",
        SearchSpec::of(&search).href(|q| q.to_owned())
    );
    assert!(
        section.contains(&format!("and {rest} more: {link}")),
        "the rest counted, with the search's page: {section}"
    );
    assert_eq!(
        mail.matches("Robot grasping with diffusion policies")
            .count(),
        2,
        "once in each part, in the trending list only: {mail}"
    );

    // Counted is settled: the next digest starts from what is new.
    arrive(&hub, &[("2612.00030", "Diffusion anew")]).await;
    send(&hub, 1).await;
    let next = &mails(&hub)[1];
    assert!(next.contains("Diffusion anew"), "{next}");
    assert!(!next.contains("Diffusion study number"), "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delivery_settles_nothing_and_the_next_digest_carries_the_match() {
    let hub = Hub::start(
        &[("refused@example.org", &["quantum"], 10)],
        Arc::new(NoMetrics),
    )
    .await;
    let reader = user(store_of(&hub), "refused", false).await;
    let spec = SearchSpec::parse("diffusion", "keyword", "").unwrap();
    saved_searches::save_search(store_of(&hub), reader.id, "Diff", &spec, Utc::now())
        .await
        .unwrap();
    arrive(&hub, &[("2612.00010", "Latent diffusion for audio")]).await;
    let report = send(&hub, 0).await;
    assert_eq!(report.sent, 0, "{}", report.summary);
    let waiting = hub.store.digest_matches(reader.id, 10).await.unwrap();
    assert_eq!(
        waiting.iter().map(|t| t.unsettled).sum::<u64>(),
        1,
        "the mail never went out: the match is still to be mailed"
    );
}
