//! [`ThumbnailStore`] on SQLite (migration 0018).

use async_trait::async_trait;
use paperfeed_core::ArxivId;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{parse_time, time_text};
use crate::encoding::ids_json;
use crate::thumbnails::too_large;
use crate::{
    MAX_THUMBNAIL_BYTES, StoreError, Thumbnail, ThumbnailFailure, ThumbnailStore, ThumbnailVersion,
};

fn paper_id(text: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| StoreError::Corrupt(format!("paper_thumbnails.paper_id: {e}")))
}

fn dimension(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|e| StoreError::Corrupt(format!("paper_thumbnails size {value}: {e}")))
}

#[async_trait]
impl ThumbnailStore for SqliteStore {
    async fn put_thumbnail(
        &self,
        paper: &ArxivId,
        thumbnail: &Thumbnail,
    ) -> Result<bool, StoreError> {
        if thumbnail.image.len() > MAX_THUMBNAIL_BYTES {
            return Err(too_large(paper, thumbnail.image.len()));
        }
        let (id, t) = (paper.to_string(), thumbnail.clone());
        self.write(move |conn| {
            let written = conn
                .prepare_cached(
                    "insert into paper_thumbnails (paper_id, image, width, height, failure, made_at)
                     select id, ?2, ?3, ?4, null, ?5 from papers where id = ?1
                     on conflict (paper_id) do update set
                         image = excluded.image, width = excluded.width,
                         height = excluded.height, failure = null, made_at = excluded.made_at",
                )?
                .execute(params![
                    id,
                    t.image,
                    i64::from(t.width),
                    i64::from(t.height),
                    time_text(t.made_at)
                ])?;
            Ok(written > 0)
        })
        .await
    }

    async fn record_thumbnail_failure(
        &self,
        failure: &ThumbnailFailure,
    ) -> Result<bool, StoreError> {
        let f = failure.clone();
        self.write(move |conn| {
            let paper = f.paper.to_string();
            let exists = conn
                .prepare_cached("select 1 from papers where id = ?1")?
                .query_row([&paper], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Ok(false);
            }
            conn.prepare_cached(
                "insert into paper_thumbnails (paper_id, image, width, height, failure, made_at)
                 values (?1, null, null, null, ?2, ?3)
                 on conflict (paper_id) do update set
                     failure = excluded.failure, made_at = excluded.made_at
                 where paper_thumbnails.image is null",
            )?
            .execute(params![paper, f.reason, time_text(f.at)])?;
            Ok(true)
        })
        .await
    }

    async fn thumbnail(&self, paper: &ArxivId) -> Result<Option<Thumbnail>, StoreError> {
        let id = paper.to_string();
        self.read(move |conn| {
            let row: Option<(Vec<u8>, i64, i64, String)> = conn
                .prepare_cached(
                    "select image, width, height, made_at from paper_thumbnails
                     where paper_id = ?1 and image is not null",
                )?
                .query_row([id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()?;
            row.map(|(image, width, height, at)| {
                Ok(Thumbnail {
                    image,
                    width: dimension(width)?,
                    height: dimension(height)?,
                    made_at: parse_time(&at)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn thumbnail_versions(
        &self,
        papers: &[ArxivId],
    ) -> Result<Vec<ThumbnailVersion>, StoreError> {
        if papers.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids_json(papers)?;
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "select t.paper_id, t.made_at from json_each(?1) j
                 join paper_thumbnails t on t.paper_id = j.value
                 where t.image is not null order by j.key",
            )?;
            let rows = statement.query_map([ids], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, at) = row?;
                out.push(ThumbnailVersion {
                    paper: paper_id(&id)?,
                    made_at: parse_time(&at)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn papers_needing_thumbnails(
        &self,
        limit: usize,
        retry_failed: bool,
    ) -> Result<Vec<ArxivId>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "select f.paper_id from featurings f
                 left join paper_thumbnails t on t.paper_id = f.paper_id
                 where t.paper_id is null or (?2 and t.image is null)
                 group by f.paper_id
                 order by max(f.day) desc, f.paper_id
                 limit ?1",
            )?;
            let rows =
                statement.query_map(params![limit, retry_failed], |row| row.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(paper_id(&row?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn thumbnail_counts(&self) -> Result<(u64, u64), StoreError> {
        self.read(|conn| {
            let (made, failed): (i64, i64) = conn
                .prepare_cached("select count(image), count(failure) from paper_thumbnails")?
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok((
                u64::try_from(made).unwrap_or(0),
                u64::try_from(failed).unwrap_or(0),
            ))
        })
        .await
    }
}
