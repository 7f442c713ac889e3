//! The contract of moving vectors in bulk: an import is one transaction fed batch by batch,
//! an export reads pages in id order.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use paperfeed_core::ArxivId;
use tokio::sync::mpsc;

use super::featured;
use crate::{Store, VectorImport, WriteMode};

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

/// Runs one import of `messages` to its end.
async fn import(
    store: &dyn Store,
    model: &str,
    messages: Vec<VectorImport>,
) -> crate::ImportedVectors {
    let (tx, rx) = mpsc::channel(1);
    let feed = async move {
        for m in messages {
            tx.send(m).await.unwrap();
        }
    };
    let (report, ()) = tokio::join!(store.import_embeddings(model, rx), feed);
    report.unwrap()
}

/// Batches go in together or not at all, against each paper's current text; unknown ids are
/// skipped and named; a repeated id keeps its last vector; pages come back in id order and
/// only for vectors that still match their paper's text; nothing moves the change counter.
pub(super) async fn check_vector_transfer(store: &dyn Store) {
    const MODEL: &str = "transfer-model";
    let (a, b, c) = (id("2407.30001"), id("2407.30002"), id("hep-th/9907001"));
    store
        .upsert_papers(
            vec![
                featured(a.as_str(), "Vectors one", "2024-07-10", 0),
                featured(b.as_str(), "Vectors two", "2024-07-10", 0),
                featured(c.as_str(), "Vectors three", "2024-07-11", 0),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let seq = store.change_seq().await.unwrap();
    let backlog = store.count_embedding_backlog(MODEL).await.unwrap();

    // A channel closed without Commit keeps nothing, even batches already written.
    let dropped = import(
        store,
        MODEL,
        vec![VectorImport::Batch(vec![(a.clone(), vec![1.0, 0.0])])],
    )
    .await;
    assert!(!dropped.committed);
    assert_eq!(dropped.stored, 0);
    assert!(store.embeddings(MODEL).await.unwrap().is_empty());

    let unknown = id("2407.39999");
    let report = import(
        store,
        MODEL,
        vec![
            VectorImport::Batch(vec![
                (a.clone(), vec![1.0, 0.0]),
                (unknown.clone(), vec![0.5, 0.5]),
            ]),
            VectorImport::Batch(vec![
                (b.clone(), vec![0.0, 9.0]),
                (c.clone(), vec![0.0, 1.0]),
                (b.clone(), vec![0.0, 2.0]),
            ]),
            VectorImport::Commit,
        ],
    )
    .await;
    assert!(report.committed);
    assert_eq!((report.stored, report.missing), (4, 1));
    assert_eq!(report.first_missing, [unknown]);
    assert_eq!(
        store.change_seq().await.unwrap(),
        seq,
        "vectors are derived data"
    );
    assert_eq!(
        store.count_embedding_backlog(MODEL).await.unwrap(),
        backlog - 3,
        "imported vectors count as computed"
    );

    // Stored against the paper's current text, as if computed by the hub.
    let paper_a = store.get_paper(&a).await.unwrap().unwrap();
    let stored = store
        .embeddings_of(MODEL, &[a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(stored[0].text_hash, paper_a.text_fingerprint());
    assert_eq!(stored[0].vector, [1.0, 0.0]);
    assert_eq!(
        stored[1].vector,
        [0.0, 2.0],
        "the last of a repeated id wins"
    );

    // Pages in id order, each after the last id of the one before.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .embeddings_page(MODEL, after.clone(), 2)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|v| v.id.clone());
        seen.extend(page.into_iter().map(|v| v.id));
    }
    let mut sorted = vec![a.clone(), b.clone(), c.clone()];
    sorted.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(seen, sorted);
    assert!(
        store
            .embeddings_page("other-model", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A paper whose text changed no longer exports its old vector.
    let mut changed = featured(a.as_str(), "Vectors one, retitled", "2024-07-10", 0);
    changed.abstract_text = "A different abstract.".into();
    store
        .upsert_papers(vec![changed], WriteMode::Commit)
        .await
        .unwrap();
    let page = store.embeddings_page(MODEL, None, 10).await.unwrap();
    assert!(page.iter().all(|v| v.id != a), "stale vector exported");
    assert_eq!(page.len(), 2);
}

/// Reads every vector of `model` stored after `after`, pages of `limit`, each page after the
/// last row of the one before: (seq, id) of each row, in order.
async fn read_since(
    store: &dyn Store,
    model: &str,
    mut after: Option<crate::VectorCursor>,
    limit: usize,
) -> Vec<(i64, ArxivId, Vec<f32>)> {
    let mut seen = Vec::new();
    loop {
        let page = store
            .embeddings_since(model, after.clone(), limit)
            .await
            .unwrap();
        assert!(page.len() <= limit);
        let Some(last) = page.last() else {
            return seen;
        };
        after = Some(last.cursor());
        seen.extend(
            page.into_iter()
                .map(|v| (v.seq, v.vector.id, v.vector.vector)),
        );
    }
}

/// Vectors come back in the order they were stored, each write (an import, a put) after the
/// ones before it, a paper once with its latest vector; a cursor inside one write's rows goes
/// on from there, so an index that stopped mid-way reads nothing twice and loses nothing.
pub(super) async fn check_vectors_in_stored_order(store: &dyn Store) {
    const MODEL: &str = "sequence-model";
    let (a, b, c) = (id("2408.30001"), id("2408.30002"), id("hep-th/9908001"));
    store
        .upsert_papers(
            vec![
                featured(a.as_str(), "Ordered one", "2024-08-10", 0),
                featured(b.as_str(), "Ordered two", "2024-08-10", 0),
                featured(c.as_str(), "Ordered three", "2024-08-11", 0),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    assert!(read_since(store, MODEL, None, 10).await.is_empty());
    let report = import(
        store,
        MODEL,
        vec![
            VectorImport::Batch(vec![
                (c.clone(), vec![0.0, 1.0]),
                (a.clone(), vec![1.0, 0.0]),
            ]),
            VectorImport::Commit,
        ],
    )
    .await;
    assert_eq!(report.stored, 2);
    let imported = read_since(store, MODEL, None, 1).await;
    let ids: Vec<_> = imported.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(ids, [a.clone(), c.clone()], "one write, by paper id");
    let first = imported[0].0;
    assert!(first >= 1 && imported[1].0 == first, "one number per write");

    // A put after the import: b is new, a is replaced and moves after c.
    let text = |p: &paperfeed_core::Paper| p.text_fingerprint();
    let (pa, pb) = (
        store.get_paper(&a).await.unwrap().unwrap(),
        store.get_paper(&b).await.unwrap().unwrap(),
    );
    store
        .put_embeddings(
            MODEL,
            vec![
                crate::PaperVector {
                    id: b.clone(),
                    text_hash: text(&pb),
                    vector: vec![0.5, 0.5],
                },
                crate::PaperVector {
                    id: a.clone(),
                    text_hash: text(&pa),
                    vector: vec![0.6, 0.8],
                },
            ],
        )
        .await
        .unwrap();
    let all = read_since(store, MODEL, None, 2).await;
    let order: Vec<_> = all
        .iter()
        .map(|(s, id, _)| (*s - first, id.clone()))
        .collect();
    assert_eq!(
        order,
        [(0, c.clone()), (1, a.clone()), (1, b.clone())],
        "a paper once, at its latest write"
    );
    assert_eq!(all[1].2, [0.6, 0.8]);

    // From a cursor inside the import's rows: only what follows it.
    let mid = crate::VectorCursor {
        seq: first,
        id: a.clone(),
    };
    let rest = read_since(store, MODEL, Some(mid), 10).await;
    assert_eq!(rest.len(), 3, "c, then the put's two");
    let caught_up = crate::VectorCursor {
        seq: all[2].0,
        id: all[2].1.clone(),
    };
    assert!(
        read_since(store, MODEL, Some(caught_up), 10)
            .await
            .is_empty()
    );
    assert!(read_since(store, "other-model", None, 10).await.is_empty());
}
