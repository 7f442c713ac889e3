//! The contract of paper thumbnails.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{TimeZone, Utc};
use paperfeed_core::ArxivId;

use super::featured;
use crate::{
    MAX_THUMBNAIL_BYTES, Store, StoreError, Thumbnail, ThumbnailFailure, ThumbnailVersion,
    WriteMode,
};

/// Kept and read back byte for byte; replaced whole; listed for a page of cards in the order
/// asked; a failure is remembered (never over a thumbnail) and keeps the paper out of the work
/// list unless retrying; papers the store lacks get nothing; an oversized image is refused;
/// counted; and no write moves the change counter.
pub(super) async fn check_thumbnails(store: &dyn Store) {
    let (newer, older, failing) = (
        ArxivId::parse("2001.00913").unwrap(),
        ArxivId::parse("2001.00912").unwrap(),
        ArxivId::parse("2001.00911").unwrap(),
    );
    store
        .upsert_papers(
            vec![
                featured("2001.00913", "Thumb newer", "2020-01-03", 1),
                featured("2001.00912", "Thumb older", "2020-01-02", 1),
                featured("2001.00911", "Thumb failing", "2020-01-01", 1),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let (made_before, failed_before) = store.thumbnail_counts().await.unwrap();
    let seq = store.change_seq().await.unwrap();
    let needing = |list: Vec<ArxivId>| -> Vec<ArxivId> {
        list.into_iter()
            .filter(|id| [&newer, &older, &failing].contains(&id))
            .collect()
    };
    assert_eq!(
        needing(
            store
                .papers_needing_thumbnails(100_000, false)
                .await
                .unwrap()
        ),
        vec![newer.clone(), older.clone(), failing.clone()],
        "latest featured day first"
    );

    let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let png = Thumbnail {
        image: b"\x89PNG\r\n\x1a\n\0\x01\x02\xff".to_vec(),
        width: 224,
        height: 290,
        made_at: t0,
    };
    assert!(store.thumbnail(&newer).await.unwrap().is_none());
    assert!(store.put_thumbnail(&newer, &png).await.unwrap());
    assert_eq!(store.thumbnail(&newer).await.unwrap(), Some(png.clone()));
    let replaced = Thumbnail {
        image: vec![7; 1000],
        made_at: t0 + chrono::Duration::hours(1),
        ..png.clone()
    };
    assert!(store.put_thumbnail(&newer, &replaced).await.unwrap());
    assert_eq!(
        store.thumbnail(&newer).await.unwrap(),
        Some(replaced.clone())
    );

    let failure = ThumbnailFailure {
        paper: failing.clone(),
        reason: "the PDF is encrypted".into(),
        at: t0,
    };
    assert!(store.record_thumbnail_failure(&failure).await.unwrap());
    assert!(
        store.thumbnail(&failing).await.unwrap().is_none(),
        "no image"
    );
    // A failure never replaces a thumbnail.
    let over = ThumbnailFailure {
        paper: newer.clone(),
        ..failure.clone()
    };
    assert!(store.record_thumbnail_failure(&over).await.unwrap());
    assert_eq!(
        store.thumbnail(&newer).await.unwrap(),
        Some(replaced.clone())
    );

    assert_eq!(
        needing(
            store
                .papers_needing_thumbnails(100_000, false)
                .await
                .unwrap()
        ),
        vec![older.clone()],
        "made and failed papers are not asked for again"
    );
    assert_eq!(
        needing(
            store
                .papers_needing_thumbnails(100_000, true)
                .await
                .unwrap()
        ),
        vec![older.clone(), failing.clone()],
        "unless failures are retried"
    );
    assert_eq!(
        store.papers_needing_thumbnails(0, true).await.unwrap(),
        vec![]
    );

    let versions = store
        .thumbnail_versions(&[failing.clone(), older.clone(), newer.clone(), newer.clone()])
        .await
        .unwrap();
    assert_eq!(
        versions,
        vec![ThumbnailVersion {
            paper: newer.clone(),
            made_at: replaced.made_at,
        }]
    );
    assert!(store.thumbnail_versions(&[]).await.unwrap().is_empty());

    // A thumbnail made after a failure replaces it.
    assert!(store.put_thumbnail(&failing, &png).await.unwrap());
    assert_eq!(store.thumbnail(&failing).await.unwrap(), Some(png.clone()));
    assert_eq!(
        store.thumbnail_counts().await.unwrap(),
        (made_before + 2, failed_before)
    );

    let unknown = ArxivId::parse("2001.00999").unwrap();
    assert!(!store.put_thumbnail(&unknown, &png).await.unwrap());
    assert!(
        !store
            .record_thumbnail_failure(&ThumbnailFailure {
                paper: unknown.clone(),
                ..failure.clone()
            })
            .await
            .unwrap()
    );
    assert!(store.thumbnail(&unknown).await.unwrap().is_none());

    let huge = Thumbnail {
        image: vec![0; MAX_THUMBNAIL_BYTES + 1],
        ..png.clone()
    };
    assert!(matches!(
        store.put_thumbnail(&older, &huge).await,
        Err(StoreError::Rejected { .. })
    ));
    assert!(store.thumbnail(&older).await.unwrap().is_none());
    assert_eq!(
        store.change_seq().await.unwrap(),
        seq,
        "no change to papers"
    );
}
