//! The outbox's contract as one story every backend must pass (see [`run_mail_contract`]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a contract check: a failed step is a failed check"
)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use paperfeed_core::{ArxivId, EmailAddress, Frequency};

use crate::mail::{DeliveryFailure, MailStore, NewSubscriber, SubscriberStatus};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn subscriber(email: &str, frequency: &str, confirmed: bool) -> NewSubscriber {
    NewSubscriber {
        email: address(email),
        frequency: frequency.parse().unwrap(),
        topics: vec!["diffusion".to_owned()],
        papers_per_digest: 10,
        confirmed,
    }
}

fn address(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

/// Queue, claim, lease, finish, fail and suspend, as a digest run and its workers use them.
pub async fn run_mail_contract(store: &dyn MailStore) {
    let ada = store
        .upsert_subscriber(subscriber("ada@example.test", "daily", true), at(0))
        .await
        .unwrap();
    assert_eq!(ada.status, SubscriberStatus::Confirmed);
    assert_eq!(ada.topics, ["diffusion"]);
    let bob = store
        .upsert_subscriber(subscriber("bob@example.test", "daily", false), at(0))
        .await
        .unwrap();
    assert_eq!(
        bob.status,
        SubscriberStatus::Pending,
        "double opt-in pending"
    );
    store
        .upsert_subscriber(subscriber("cy@example.test", "weekly", true), at(0))
        .await
        .unwrap();
    // The same address again (any case) updates preferences, keeps the status and the id.
    let again = store
        .upsert_subscriber(
            NewSubscriber {
                papers_per_digest: 5,
                ..subscriber("ADA@example.test", "daily", false)
            },
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.status),
        (ada.id, SubscriberStatus::Confirmed)
    );
    assert_eq!(again.papers_per_digest, 5);

    // Double opt-in: a request makes a pending subscriber and asks for one confirmation mail
    // per interval; a confirmed address is never mailed again (and the caller answers the same).
    let interval = Duration::minutes(10);
    let (eve, send) = store
        .request_subscription(
            &address("eve@example.test"),
            Frequency::Daily,
            at(0),
            interval,
        )
        .await
        .unwrap();
    assert_eq!((eve.status, send), (SubscriberStatus::Pending, true));
    let (_, send) = store
        .request_subscription(
            &address("EVE@example.test"),
            Frequency::Daily,
            at(5),
            interval,
        )
        .await
        .unwrap();
    assert!(!send, "within the interval: no second mail");
    let (_, send) = store
        .request_subscription(
            &address("eve@example.test"),
            Frequency::Daily,
            at(11),
            interval,
        )
        .await
        .unwrap();
    assert!(send, "after the interval: one more");
    let (same, send) = store
        .request_subscription(
            &address("ada@example.test"),
            Frequency::Daily,
            at(20),
            interval,
        )
        .await
        .unwrap();
    assert_eq!((same.status, send), (SubscriberStatus::Confirmed, false));

    // Preferences change in place.
    store
        .update_preferences(eve.id, Frequency::Weekly, vec!["robots".into()], 3, at(21))
        .await
        .unwrap();
    let eve = store.subscriber(eve.id).await.unwrap().unwrap();
    assert_eq!(
        (
            eve.frequency.as_str(),
            eve.topics.as_slice(),
            eve.papers_per_digest
        ),
        ("weekly", &["robots".to_owned()][..], 3)
    );
    assert!(store.subscriber(999_999).await.unwrap().is_none());

    // Only confirmed daily subscribers are queued, once however often the run repeats.
    assert_eq!(
        store
            .queue_digests(Frequency::Daily, "2026-11-30", at(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .queue_digests(Frequency::Daily, "2026-11-30", at(3))
            .await
            .unwrap(),
        0
    );
    // Two processes claiming, each registered with a lock that lives as long as it does.
    let a = store.register_claimer("worker a", at(3)).await.unwrap();
    let b = store.register_claimer("worker b", at(3)).await.unwrap();
    assert_ne!(a.id(), b.id());
    let job = store
        .claim_digest(&a, "2026-11-30", at(3), at(8))
        .await
        .unwrap()
        .expect("ada's job");
    assert_eq!(job.subscriber.id, ada.id);
    assert_eq!(job.attempts, 1);
    assert!(
        store
            .claim_digest(&b, "2026-11-30", at(4), at(9))
            .await
            .unwrap()
            .is_none(),
        "a job claimed by a live claimer under lease is nobody else's"
    );
    let holders = store.live_holders(&b, "2026-11-30", at(4)).await.unwrap();
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert!(holders[0].claimer.contains("worker a"), "{holders:?}");
    assert_eq!(holders[0].jobs, 1);
    assert!(
        store
            .live_holders(&a, "2026-11-30", at(4))
            .await
            .unwrap()
            .is_empty(),
        "a claimer's own jobs are not another's"
    );
    // The fallback: a claimer that looks alive but let its lease run out (a node cut off from
    // the store) loses the job to the next claimer, and can no longer finish it.
    let second = store
        .claim_digest(&b, "2026-11-30", at(8), at(13))
        .await
        .unwrap()
        .expect("free again after the lease");
    assert_eq!(second.id, job.id);
    assert_ne!(second.claim_token, job.claim_token);
    let papers = vec![id("2608.19880"), id("2608.18580")];
    assert!(
        !store
            .finish_digest(job.id, &job.claim_token, papers.clone(), at(9))
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_digest(second.id, &second.claim_token, papers.clone(), at(9))
            .await
            .unwrap()
    );
    let counts = store.digest_counts("2026-11-30").await.unwrap();
    assert_eq!((counts.sent, counts.queued, counts.claimed), (1, 0, 0));
    assert_eq!(
        store
            .mailed_papers(ada.id, &[id("2608.19880"), id("2401.00001")])
            .await
            .unwrap(),
        [id("2608.19880")]
    );
    assert!(
        store
            .claim_digest(&b, "2026-11-30", at(20), at(25))
            .await
            .unwrap()
            .is_none()
    );

    // A claimer that dies (its lock goes with its process) leaves its jobs to the next claimer
    // at once, long before their leases run out.
    store
        .queue_digests(Frequency::Daily, "2026-11-29", at(20))
        .await
        .unwrap();
    let doomed = store.register_claimer("doomed run", at(20)).await.unwrap();
    let lost = store
        .claim_digest(&doomed, "2026-11-29", at(20), at(80))
        .await
        .unwrap()
        .expect("ada's job of the 29th");
    assert!(
        store
            .claim_digest(&b, "2026-11-29", at(21), at(81))
            .await
            .unwrap()
            .is_none(),
        "alive, so its claim holds"
    );
    drop(doomed); // as in a SIGKILL: nothing released, the lock just goes
    // PostgreSQL drops a session's locks a moment after its connection closes.
    let mut taken = None;
    for _ in 0..100 {
        taken = store
            .claim_digest(&b, "2026-11-29", at(21), at(81))
            .await
            .unwrap();
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let taken = taken.expect("the dead claimer's job, taken over before its lease ran out");
    assert_eq!(taken.id, lost.id);
    assert!(
        store
            .live_holders(&a, "2026-11-29", at(21))
            .await
            .unwrap()
            .iter()
            .all(|h| !h.claimer.contains("doomed")),
        "a dead claimer holds nothing"
    );
    assert!(
        !store
            .finish_digest(lost.id, &lost.claim_token, vec![], at(22))
            .await
            .unwrap(),
        "the dead claimer's token no longer finishes the job"
    );
    assert!(
        store
            .finish_digest(taken.id, &taken.claim_token, vec![], at(22))
            .await
            .unwrap()
    );
    // A claimer that ends cleanly: released, its registration and lock are gone.
    store.release_claimer(a).await.unwrap();
    let a_again = store
        .register_claimer("worker a again", at(23))
        .await
        .unwrap();

    // Temporary failure: queued again, due at the retry time.
    store
        .queue_digests(Frequency::Daily, "2026-12-01", at(30))
        .await
        .unwrap();
    let job = store
        .claim_digest(&b, "2026-12-01", at(30), at(35))
        .await
        .unwrap()
        .unwrap();
    store
        .fail_digest(
            job.id,
            &job.claim_token,
            "451 try later".into(),
            DeliveryFailure::Temporary { retry_at: at(40) },
            3,
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_digest(&b, "2026-12-01", at(39), at(45))
            .await
            .unwrap()
            .is_none()
    );
    let retry = store
        .claim_digest(&b, "2026-12-01", at(40), at(45))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.attempts, 2);

    // Permanent failures suspend the address after the configured count.
    store
        .fail_digest(
            retry.id,
            &retry.claim_token,
            "550 no such user".into(),
            DeliveryFailure::Permanent,
            1,
        )
        .await
        .unwrap();
    let ada = store
        .subscriber_by_email(&address("ada@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada.status, SubscriberStatus::Suspended);
    assert_eq!(store.digest_counts("2026-12-01").await.unwrap().failed, 1);
    assert_eq!(
        store
            .queue_digests(Frequency::Daily, "2026-12-02", at(60))
            .await
            .unwrap(),
        0
    );

    // Unsubscribing stops jobs already queued.
    store
        .queue_digests(Frequency::Weekly, "2026-W49", at(60))
        .await
        .unwrap();
    let cy = store
        .subscriber_by_email(&address("cy@example.test"))
        .await
        .unwrap()
        .unwrap();
    store
        .set_subscriber_status(cy.id, SubscriberStatus::Unsubscribed, at(61))
        .await
        .unwrap();
    assert!(
        store
            .claim_digest(&a_again, "2026-W49", at(62), at(70))
            .await
            .unwrap()
            .is_none()
    );
    store.release_claimer(a_again).await.unwrap();
    store.release_claimer(b).await.unwrap();
}
