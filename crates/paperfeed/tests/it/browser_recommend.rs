//! "For you" in real headless Chromium: seed three papers → picks with reasons → "not
//! interested" on one → it and its near-duplicate leave → reset → the cold-start page. With
//! the embedding model (required in CI) the hub computes real sentence vectors first.

use std::time::{Duration, Instant};

use fantoccini::Locator;

use crate::browser::{
    browser, card_ids, click, click_and_load, fill_and_submit, save_screenshot, text_of,
    wait_for_path, wait_for_text,
};
use crate::harness::{model_dir, register_secret};
use crate::recommendations::{SEEDS, TWINS, hub};

/// `/for-you`, reloaded while the recommender is still reading the hub.
async fn open_for_you(client: &fantoccini::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        client.goto(url).await.unwrap();
        if client.find(Locator::Id("for-you-warming")).await.is_err() {
            return;
        }
        assert!(Instant::now() < deadline, "the recommender never warmed up");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_seeds_three_papers_reads_why_dismisses_a_pick_and_its_twin_and_resets() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let model = model_dir();
    let server = hub(model.as_deref());
    if model.is_some() {
        server.wait_for_index(true).await;
    }
    register_secret("correct horse battery");
    client.goto(&server.url("/signup")).await.unwrap();
    fill_and_submit(
        client,
        &[
            ("f-username", "rosa_reader"),
            ("f-email", "rosa@example.test"),
            ("f-password", "correct horse battery"),
        ],
    )
    .await;
    wait_for_path(client, |p| p != "/signup").await;

    // Before any signal, the page says how to start.
    open_for_you(client, &server.url("/for-you")).await;
    assert_eq!(text_of(client, "#start-title").await, "How to start");

    // Seed three papers with "Recommend from this" on their pages.
    for id in SEEDS {
        client
            .goto(&server.url(&format!("/papers/{id}")))
            .await
            .unwrap();
        // The form comes back to this very page: wait for the new load, not the path (it
        // already holds), or the next `goto` races the redirect.
        click_and_load(client, "form.seed button").await;
        wait_for_path(client, |p| p == format!("/papers/{id}")).await;
    }
    open_for_you(client, &server.url("/for-you")).await;
    let seeds = text_of(client, "ul.seeds").await;
    assert_eq!(seeds.matches("Remove").count(), 3, "{seeds}");
    let picks = card_ids(client).await;
    assert!(!picks.is_empty());
    assert!(
        TWINS.contains(&picks[0].as_str()),
        "the protein paper first: {picks:?}"
    );
    assert!(picks.iter().all(|p| !SEEDS.contains(&p.as_str())));
    let why = text_of(client, "li.reasons").await;
    assert!(why.contains("because you asked for papers like “"), "{why}");
    assert!(why.contains("Score: relevance"), "{why}");
    save_screenshot(client, "screenshot-for-you.png").await;

    // Not interested in the top pick: it leaves, and so does its near-duplicate.
    let top = picks[0].clone();
    // A plain form: the page loads again. Reading cards before it has would see none.
    click_and_load(
        client,
        &format!("article[data-paper-id='{top}'] form[action='/account/dismissed'] button"),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let ids = card_ids(client).await;
        if !ids.contains(&top) {
            break ids;
        }
        assert!(Instant::now() < deadline, "{top} never left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!after.is_empty(), "other picks remain");
    for twin in TWINS {
        assert!(!after.contains(&twin.to_owned()), "{twin} left: {after:?}");
    }

    // Reset: back to the cold start, seeds forgotten.
    click(client, "#reset-recommender").await;
    wait_for_text(client, "main", |t| t.contains("How to start")).await;
    assert!(card_ids(client).await.is_empty());
    assert!(
        text_of(client, "#controls")
            .await
            .contains("None yet: press")
    );
    save_screenshot(client, "screenshot-for-you-reset.png").await;
    browser.client.clone().close().await.unwrap();
}
