//! The contract of the change feed derived data follows, and of stored vectors.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use paperfeed_core::{ArxivId, NewPaper, PaperVersion};

use crate::{Store, WriteMode};

/// The watermark feed for derived data, and stored vectors that follow the paper's text.
pub(super) async fn check_changes_and_embeddings(store: &dyn Store) {
    let all = store.papers_changed_since(0, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(
        all.windows(2).all(|w| w[0].change_seq <= w[1].change_seq),
        "change order"
    );
    let newest = all.last().unwrap().change_seq;
    assert!(
        store
            .papers_changed_since(newest, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The first batch wrote three papers in one change: a page never splits a change.
    let paged = store.papers_changed_since(0, 1).await.unwrap();
    let first_seq = paged[0].change_seq;
    assert!(paged.iter().all(|c| c.change_seq == first_seq));
    let whole = all.iter().filter(|c| c.change_seq == first_seq).count();
    assert_eq!(paged.len(), whole, "a page ends with a whole change");
    let rest = store.papers_changed_since(first_seq, 1).await.unwrap();
    assert!(rest.iter().all(|c| c.change_seq > first_seq));

    const MODEL: &str = "test-model";
    assert_eq!(store.count_embedding_backlog(MODEL).await.unwrap(), 4);
    let jobs = store.embedding_backlog(MODEL, 2).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let first = store.get_paper(&jobs[0].id).await.unwrap().unwrap();
    assert_eq!(jobs[0].text, first.embedding_text());
    assert_eq!(jobs[0].text_hash, first.text_fingerprint());
    let vectors = jobs
        .iter()
        .map(|j| crate::PaperVector {
            id: j.id.clone(),
            text_hash: j.text_hash,
            vector: vec![0.25, -1.5, 3.0],
        })
        .collect();
    store.put_embeddings(MODEL, vectors).await.unwrap();
    assert_eq!(store.count_embedding_backlog(MODEL).await.unwrap(), 2);
    assert_eq!(
        store.count_embedding_backlog("other-model").await.unwrap(),
        4
    );
    let stored = store.embeddings(MODEL).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].vector, [0.25, -1.5, 3.0]);
    // By id: only the asked-for papers that have a vector, none for unknown ids.
    let asked = [
        jobs[1].id.clone(),
        ArxivId::parse("2101.99999").unwrap(),
        all.iter()
            .map(|c| c.paper.id.clone())
            .find(|id| *id != jobs[0].id && *id != jobs[1].id)
            .unwrap(),
    ];
    let some = store.embeddings_of(MODEL, &asked).await.unwrap();
    assert_eq!(
        some.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
        [jobs[1].id.clone()]
    );
    assert_eq!(some[0].text_hash, jobs[1].text_hash);
    assert!(store.embeddings_of(MODEL, &[]).await.unwrap().is_empty());

    // A vector for text that is no longer current is refused, and a text change makes the
    // paper's vector stale.
    store
        .put_embeddings(
            MODEL,
            vec![crate::PaperVector {
                id: jobs[0].id.clone(),
                text_hash: jobs[0].text_hash ^ 1,
                vector: vec![9.0],
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        store.embeddings(MODEL).await.unwrap()[0].vector,
        [0.25, -1.5, 3.0]
    );
    let mut v3 = NewPaper::new(
        jobs[0].id.clone(),
        "Retitled".into(),
        "New text.".into(),
        vec![],
    );
    v3.versions = vec![PaperVersion {
        number: 9,
        submitted_at: None,
    }];
    store
        .upsert_papers(vec![v3], WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!(
        store.embeddings(MODEL).await.unwrap().len(),
        1,
        "the stale vector is not served"
    );
    assert_eq!(store.count_embedding_backlog(MODEL).await.unwrap(), 3);
    let changed = store.papers_changed_since(newest, 100).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].paper.title, "Retitled");
}
