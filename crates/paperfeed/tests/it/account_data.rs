//! "Download my data" and "delete my account" over HTTP, as a reader uses them.

use reqwest::header;

use crate::community::{PAPER, PASSWORD, Visitor};
use crate::harness::Server;

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_downloads_their_data_then_deletes_their_account_and_their_vote_leaves_the_count()
{
    let server = Server::start();
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let before = ada.upvotes(PAPER).await;
    let paper = format!("/papers/{PAPER}");
    let csrf = ada.csrf(&paper).await;
    let vote = format!("{paper}/upvote");
    assert_eq!(
        ada.post(&vote, &[("action", "up"), ("csrf", &csrf)])
            .await
            .status,
        303
    );
    let comment = "quokka-shaped thoughts <b>of mine</b>";
    assert_eq!(
        ada.post(
            &format!("{paper}/comments"),
            &[("csrf", &csrf), ("body", comment)]
        )
        .await
        .status,
        303
    );
    assert_eq!(ada.upvotes(PAPER).await, before + 1);

    // The download: an attachment holding what the reader did, and no secret.
    let data = ada.get("/account/data").await;
    assert_eq!(data.status, 200, "{}", data.body);
    let disposition = data.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("paperfeed-ada-"),
        "{disposition}"
    );
    let json: serde_json::Value = serde_json::from_str(&data.body).unwrap();
    assert_eq!(json["format"], "paperfeed-account-data");
    assert_eq!(json["account"]["email"], "ada@example.org");
    assert_eq!(json["votes"][0]["paper"], PAPER);
    assert_eq!(json["comments"][0]["body"], comment);
    assert!(!data.body.contains("argon2"), "{}", data.body);
    // Strangers get the log-in page, not someone's data.
    let stranger = Visitor::new(&server).get("/account/data").await;
    assert_ne!(stranger.status, 200);

    // The delete page says what goes and what stays, and a wrong password deletes nothing.
    let page = ada.get("/account/delete").await;
    assert!(
        page.body.contains("What is removed") && page.body.contains("What stays, anonymised"),
        "{}",
        page.body
    );
    let csrf = ada.csrf("/account/delete").await;
    assert_eq!(
        ada.post(
            "/account/delete",
            &[("csrf", "forged"), ("password", PASSWORD)]
        )
        .await
        .status,
        403
    );
    let wrong = ada
        .post(
            "/account/delete",
            &[("csrf", &csrf), ("password", "not my password")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("nothing was deleted"), "{}", wrong.body);
    assert_eq!(ada.upvotes(PAPER).await, before + 1);

    let gone = ada
        .post(
            "/account/delete",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert!(
        gone.body.contains("Your account is deleted") && gone.body.contains("1 vote"),
        "{}",
        gone.body
    );
    assert_eq!(ada.upvotes(PAPER).await, before, "the vote left the count");
    let page = ada.get(&paper).await.body;
    assert!(!page.contains("quokka-shaped"), "the comment is gone");
    assert_eq!(ada.get("/account").await.status, 303, "signed out");
    assert_ne!(
        ada.log_in("ada", PASSWORD).await.status,
        303,
        "no such account any more"
    );
}
