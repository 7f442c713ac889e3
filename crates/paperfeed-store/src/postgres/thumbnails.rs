//! [`ThumbnailStore`] on PostgreSQL, mirroring `sqlite/thumbnails.rs` (migration 0013).

use async_trait::async_trait;
use paperfeed_core::ArxivId;

use super::PostgresStore;
use super::sql::{corrupt, execute, limit_of, ms, query, query_one, query_opt};
use crate::thumbnails::too_large;
use crate::{
    MAX_THUMBNAIL_BYTES, StoreError, Thumbnail, ThumbnailFailure, ThumbnailStore, ThumbnailVersion,
};

fn paper_id(text: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| corrupt("paper_thumbnails.paper_id", &e))
}

fn dimension(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|e| corrupt("paper_thumbnails size", &e))
}

#[async_trait]
impl ThumbnailStore for PostgresStore {
    async fn put_thumbnail(
        &self,
        paper: &ArxivId,
        thumbnail: &Thumbnail,
    ) -> Result<bool, StoreError> {
        if thumbnail.image.len() > MAX_THUMBNAIL_BYTES {
            return Err(too_large(paper, thumbnail.image.len()));
        }
        let written = execute(
            &self.client().await?,
            "insert into paper_thumbnails (paper_id, image, width, height, failure, made_at)
             select id, $2, $3, $4, null, $5 from papers where id = $1
             on conflict (paper_id) do update set
                 image = excluded.image, width = excluded.width,
                 height = excluded.height, failure = null, made_at = excluded.made_at",
            &[
                &paper.as_str(),
                &thumbnail.image,
                &i64::from(thumbnail.width),
                &i64::from(thumbnail.height),
                &ms(thumbnail.made_at),
            ],
        )
        .await?;
        Ok(written > 0)
    }

    async fn record_thumbnail_failure(
        &self,
        failure: &ThumbnailFailure,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let exists = query_opt(
            &client,
            "select 1 from papers where id = $1",
            &[&failure.paper.as_str()],
        )
        .await?
        .is_some();
        if !exists {
            return Ok(false);
        }
        execute(
            &client,
            "insert into paper_thumbnails (paper_id, image, width, height, failure, made_at)
             values ($1, null, null, null, $2, $3)
             on conflict (paper_id) do update set
                 failure = excluded.failure, made_at = excluded.made_at
             where paper_thumbnails.image is null",
            &[&failure.paper.as_str(), &failure.reason, &ms(failure.at)],
        )
        .await?;
        Ok(true)
    }

    async fn thumbnail(&self, paper: &ArxivId) -> Result<Option<Thumbnail>, StoreError> {
        let row = query_opt(
            &self.client().await?,
            "select image, width, height, made_at from paper_thumbnails
             where paper_id = $1 and image is not null",
            &[&paper.as_str()],
        )
        .await?;
        row.map(|row| {
            Ok(Thumbnail {
                image: row.try_get(0)?,
                width: dimension(row.try_get(1)?)?,
                height: dimension(row.try_get(2)?)?,
                made_at: row.try_get(3)?,
            })
        })
        .transpose()
    }

    async fn thumbnail_versions(
        &self,
        papers: &[ArxivId],
    ) -> Result<Vec<ThumbnailVersion>, StoreError> {
        if papers.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = crate::encoding::distinct_ids(papers);
        query(
            &self.client().await?,
            "select t.paper_id, t.made_at from unnest($1::text[]) with ordinality as w(id, n)
               join paper_thumbnails t on t.paper_id = w.id
              where t.image is not null
              order by w.n",
            &[&wanted],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(ThumbnailVersion {
                paper: paper_id(&r.try_get::<_, String>(0)?)?,
                made_at: r.try_get(1)?,
            })
        })
        .collect()
    }

    async fn papers_needing_thumbnails(
        &self,
        limit: usize,
        retry_failed: bool,
    ) -> Result<Vec<ArxivId>, StoreError> {
        query(
            &self.client().await?,
            "select f.paper_id from featurings f
               left join paper_thumbnails t on t.paper_id = f.paper_id
              where t.paper_id is null or ($2 and t.image is null)
              group by f.paper_id
              order by max(f.day) desc, f.paper_id
              limit $1",
            &[&limit_of(limit), &retry_failed],
        )
        .await?
        .iter()
        .map(|r| paper_id(&r.try_get::<_, String>(0)?))
        .collect()
    }

    async fn thumbnail_counts(&self) -> Result<(u64, u64), StoreError> {
        let row = query_one(
            &self.client().await?,
            "select count(image), count(failure) from paper_thumbnails",
            &[],
        )
        .await?;
        let made: i64 = row.try_get(0)?;
        let failed: i64 = row.try_get(1)?;
        Ok((
            u64::try_from(made).unwrap_or(0),
            u64::try_from(failed).unwrap_or(0),
        ))
    }
}
