//! `paperfeed recommend USER`: a reader's "for you" picks from the command line, each with why
//! (the same use case as `/for-you` and `GET /api/me/recommendations`). It reads the hub's
//! papers and stored vectors first (seconds at 100k papers); vectors not computed yet are not
//! computed here (`paperfeed reindex` does that).

use std::sync::Arc;

use anyhow::Context as _;
use paperfeed_app::indexing::Indexer;
use paperfeed_app::recommend::{ForYou, Recommender};
use paperfeed_store::Store;

use crate::cli::RecommendArgs;
use crate::indexer::open_engine;
use crate::settings::Settings;

pub async fn recommend(settings: &Settings, args: &RecommendArgs) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = crate::database::open(settings).await?;
    let user = store
        .user_by_name(&args.user)
        .await?
        .with_context(|| format!("there is no user named {:?}", args.user))?;
    let indexer = Indexer {
        store: Arc::clone(&store),
        engine: Arc::new(open_engine(settings).await?),
        embed_batch: settings.search.embed_batch,
    };
    indexer.catch_up_vectors(&|_| {}).await?;
    let recommender = Recommender::new(Arc::clone(&indexer.engine));
    recommender
        .catch_up(&*store)
        .await
        .context("reading the hub's papers")?;
    let page = recommender
        .for_you(
            &*store,
            user.id,
            paperfeed_app::recommend::picks_asked(Some(args.limit)),
        )
        .await
        .with_context(|| format!("recommending for {}", args.user))?;
    let items = match page.result {
        ForYou::Picks(items) => items,
        ForYou::Paused => {
            println!("{}'s recommendations are paused.", args.user);
            return Ok(());
        }
        ForYou::ColdStart | ForYou::Warming => {
            println!(
                "{} has given no signal yet (since the last reset): nothing to recommend from.",
                args.user
            );
            return Ok(());
        }
    };
    if args.json {
        let json: Vec<_> = items
            .iter()
            .map(|item| {
                serde_json::json!({
                    "id": item.paper.id,
                    "title": item.paper.title,
                    "url": item.paper.id.abs_url(),
                    "reasons": item.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "score": item.terms.to_string(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for (i, item) in items.iter().enumerate() {
            println!("{:>2}. {}  {}", i + 1, item.paper.id, item.paper.title);
            for reason in &item.reasons {
                println!("      {reason}");
            }
            println!("      {}", item.terms);
        }
    }
    Ok(())
}
