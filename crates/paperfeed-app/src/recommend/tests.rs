//! The recommender's use cases on a real SQLite store, with sentence vectors made to order:
//! three topics, each paper near its topic's direction, and one near-duplicate pair.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Author, AuthorKey, Featuring, FollowTarget, NewPaper};
use paperfeed_search::{KeywordIndex, SearchEngine};
use paperfeed_store::{LibraryStore, SqliteStore, Store, UserId, WriteMode};

use super::*;
use crate::test_support::{sqlite_store, user};

const DIM: usize = 16;
const TOPICS: [(&str, &str); 3] = [
    (
        "Protein folding",
        "protein structure folding residues amino acid backbone",
    ),
    (
        "Galaxy surveys",
        "galaxy redshift survey cosmology dark halo",
    ),
    (
        "Language models",
        "language model transformer tokens attention pretraining",
    ),
];
/// Papers per topic.
const PER_TOPIC: usize = 8;

fn id(topic: usize, n: usize) -> ArxivId {
    ArxivId::parse(&format!("2608.{:05}", topic * 100 + n + 1)).unwrap()
}

/// The near-duplicate of topic 0's paper 1.
fn twin() -> ArxivId {
    ArxivId::parse("2608.00099").unwrap()
}

/// A unit vector near topic `topic`'s axis, a little off towards `n`.
fn vector(topic: usize, n: usize) -> Vec<f32> {
    let mut v = [0.0f32; DIM];
    v[topic] = 1.0;
    v[3 + n % (DIM - 3)] = 1.0;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// Eight words no other paper uses.
fn own_words(topic: usize, n: usize) -> String {
    (0..8)
        .map(|k| format!("t{topic}p{n}w{k}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn new_paper(id: &ArxivId, topic: usize, n: usize, day: NaiveDate) -> NewPaper {
    let (title, words) = TOPICS[topic];
    let mut p = NewPaper::new(
        id.clone(),
        format!("{title} study {n}"),
        // Each paper also has words of its own, as real abstracts do: papers of one topic
        // share its words without reading as near-duplicates of each other.
        format!(
            "We study {words} in setting number {n}; {}.",
            own_words(topic, n)
        ),
        vec![Author::named(if topic == 1 {
            "Vera Rubin"
        } else {
            "Ada Lovelace"
        })],
    );
    p.featured = Some(Featuring {
        date: day,
        submitter: None,
    });
    p.upvotes = Some(n as i64);
    p
}

struct Hub {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    recommender: Recommender,
    engine: Arc<SearchEngine>,
}

async fn hub() -> Hub {
    let (dir, store) = sqlite_store().await;
    let day = NaiveDate::from_ymd_opt(2026, 8, 21).unwrap();
    let mut papers = Vec::new();
    let mut vectors = Vec::new();
    for topic in 0..TOPICS.len() {
        for n in 0..PER_TOPIC {
            let pid = id(topic, n);
            papers.push(new_paper(&pid, topic, n, day - Duration::days(n as i64)));
            vectors.push((pid, vector(topic, n)));
        }
    }
    let mut twin_paper = new_paper(&twin(), 0, 1, day);
    twin_paper.title = "Protein folding study 1, again".into();
    papers.push(twin_paper);
    let mut twin_vector = vector(0, 1);
    twin_vector[DIM - 1] += 0.01;
    vectors.push((twin(), twin_vector));
    store
        .upsert_papers(papers, WriteMode::Commit)
        .await
        .unwrap();
    let engine = Arc::new(SearchEngine::new(
        KeywordIndex::in_memory().unwrap(),
        Err("no model in tests".to_owned()),
        1000,
    ));
    engine.add_vectors(vectors);
    let recommender = Recommender::new(Arc::clone(&engine));
    recommender.catch_up(&store).await.unwrap();
    Hub {
        _dir: dir,
        store,
        recommender,
        engine,
    }
}

async fn picks(hub: &Hub, user: UserId) -> Vec<ForYouItem> {
    match hub
        .recommender
        .for_you(&hub.store, user, 10)
        .await
        .unwrap()
        .result
    {
        ForYou::Picks(items) => items,
        other => panic!("expected picks, got {other:?}"),
    }
}

fn ids(items: &[ForYouItem]) -> Vec<ArxivId> {
    items.iter().map(|i| i.paper.id.clone()).collect()
}

#[tokio::test]
async fn a_reader_without_signals_is_told_how_to_start_and_seeds_bring_explained_picks() {
    let hub = hub().await;
    let ada = user(&hub.store, "ada", false).await;
    assert!(hub.recommender.is_ready());
    let first = hub
        .recommender
        .for_you(&hub.store, ada.id, 10)
        .await
        .unwrap();
    assert!(matches!(first.result, ForYou::ColdStart));
    assert_eq!(first.controls, Controls::default());

    let now = Utc::now();
    for n in [2, 3, 4] {
        assert!(add_seed(&hub.store, ada.id, &id(0, n), now).await.unwrap());
    }
    assert!(
        !add_seed(&hub.store, ada.id, &id(0, 2), now).await.unwrap(),
        "a seed once"
    );
    let items = picks(&hub, ada.id).await;
    assert!(!items.is_empty());
    let seeds = [id(0, 2), id(0, 3), id(0, 4)];
    assert!(
        ids(&items).iter().all(|p| !seeds.contains(p)),
        "a seed is never picked"
    );
    let top = &items[0];
    assert!(
        top.paper.id.as_str().starts_with("2608.000"),
        "the protein papers come first: {:?}",
        ids(&items)
    );
    let Because::Paper {
        kind,
        id: near,
        title,
        ..
    } = &top.reasons[0]
    else {
        panic!("the top pick names a seed: {:?}", top.reasons);
    };
    assert_eq!(*kind, SignalKind::Seed);
    assert!(seeds.contains(near));
    assert!(
        top.reasons[0]
            .to_string()
            .starts_with("because you asked for papers like \u{201C}Protein folding study")
    );
    assert!(title.starts_with("Protein folding study"));
    assert!(top.terms.to_string().contains("social 0.10 \u{D7}"));
    assert_eq!(
        top.terms.recency.weight,
        paperfeed_search::recommend::RECENCY_WEIGHT
    );
    // Diversity: of a near-duplicate pair, the second comes after every other paper of the
    // topic (all of them are about as relevant).
    let order = ids(&items);
    let pair: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, p)| **p == id(0, 1) || **p == twin())
        .map(|(i, _)| i)
        .collect();
    let siblings: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, p)| p.as_str().starts_with("2608.000") && **p != id(0, 1) && **p != twin())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(pair.len(), 2, "{order:?}");
    assert!(
        siblings.iter().all(|s| *s < pair[1]),
        "the second of the near-duplicates comes last of its topic: {order:?}"
    );
}

#[tokio::test]
async fn not_interested_takes_a_pick_and_its_near_duplicates_away_and_a_reset_starts_over() {
    let hub = hub().await;
    let ada = user(&hub.store, "ada", false).await;
    let now = Utc::now();
    for n in [2, 3, 4] {
        add_seed(&hub.store, ada.id, &id(0, n), now).await.unwrap();
    }
    let before = ids(&picks(&hub, ada.id).await);
    let shown = if before.contains(&id(0, 1)) {
        id(0, 1)
    } else {
        twin()
    };
    assert!(before.contains(&shown), "{before:?}");
    crate::visibility::dismiss(&hub.store, ada.id, &shown, now)
        .await
        .unwrap();
    let after = ids(&picks(&hub, ada.id).await);
    assert!(!after.contains(&id(0, 1)), "{after:?}");
    assert!(
        !after.contains(&twin()),
        "the near-duplicate left with it: {after:?}"
    );

    // A reset forgets the seeds and every signal before it: back to the start.
    let controls = reset(&hub.store, ada.id, Utc::now()).await.unwrap();
    assert!(controls.reset_at.is_some());
    assert!(seed_papers(&hub.store, ada.id).await.unwrap().is_empty());
    let page = hub
        .recommender
        .for_you(&hub.store, ada.id, 10)
        .await
        .unwrap();
    assert!(
        matches!(page.result, ForYou::ColdStart),
        "{:?}",
        page.result
    );

    // A signal after the reset counts again; the paper dismissed before stays hidden.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    hub.store
        .save_paper(ada.id, &id(0, 5), Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    let again = ids(&picks(&hub, ada.id).await);
    assert!(!again.contains(&shown));
    assert!(!again.contains(&id(0, 5)), "a saved paper is not picked");
}

#[tokio::test]
async fn following_an_author_is_enough_to_start_and_the_reason_names_them() {
    let hub = hub().await;
    let ben = user(&hub.store, "ben", false).await;
    let rubin = FollowTarget::Author(AuthorKey::from_name("Vera Rubin").unwrap());
    crate::follows::follow(&hub.store, ben.id, &rubin, Utc::now())
        .await
        .unwrap();
    let items = picks(&hub, ben.id).await;
    assert!(
        items[0].paper.title.starts_with("Galaxy surveys"),
        "{:?}",
        ids(&items)
    );
    assert!(
        items[0]
            .reasons
            .iter()
            .any(|r| r.to_string() == "author you follow: Vera Rubin"),
        "{:?}",
        items[0].reasons
    );
}

#[tokio::test]
async fn paused_recommendations_stop_and_controls_are_checked_and_kept() {
    let hub = hub().await;
    let ada = user(&hub.store, "ada", false).await;
    add_seed(&hub.store, ada.id, &id(2, 0), Utc::now())
        .await
        .unwrap();
    set_paused(&hub.store, ada.id, true, Utc::now())
        .await
        .unwrap();
    assert!(matches!(
        hub.recommender
            .for_you(&hub.store, ada.id, 10)
            .await
            .unwrap()
            .result,
        ForYou::Paused
    ));
    set_paused(&hub.store, ada.id, false, Utc::now())
        .await
        .unwrap();
    let bad = ControlsChange {
        social_weight: Some("101".into()),
        ..ControlsChange::default()
    };
    let refused = change_controls(&hub.store, ada.id, &bad, Utc::now()).await;
    assert!(
        matches!(
            refused,
            Err(RecommendError::Invalid {
                field: "social_weight",
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().is_refusal());
    let change = ControlsChange {
        social_weight: Some("0".into()),
        recency_days: Some("3".into()),
        exploration: Some("50".into()),
    };
    let controls = change_controls(&hub.store, ada.id, &change, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (
            controls.social_weight,
            controls.recency_days,
            controls.exploration
        ),
        (0, 3, 50)
    );
    let page = hub
        .recommender
        .for_you(&hub.store, ada.id, 10)
        .await
        .unwrap();
    assert_eq!(page.controls, controls, "in effect on the next load");
    let ForYou::Picks(items) = page.result else {
        panic!("picks")
    };
    let newest = NaiveDate::from_ymd_opt(2026, 8, 21).unwrap();
    assert!(
        items
            .iter()
            .all(|i| i.paper.first_featured().unwrap() >= newest - Duration::days(3)),
        "only papers of the last three days of the hub"
    );
    assert!(items.iter().all(|i| i.terms.social.weight == 0.0));
    assert!(matches!(
        add_seed(
            &hub.store,
            ada.id,
            &ArxivId::parse("2608.09999").unwrap(),
            Utc::now()
        )
        .await,
        Err(RecommendError::NoSuchPaper(_))
    ));
}

#[tokio::test]
async fn a_new_signal_updates_the_cached_model_by_one_example() {
    let hub = hub().await;
    let ada = user(&hub.store, "ada", false).await;
    add_seed(&hub.store, ada.id, &id(1, 0), Utc::now())
        .await
        .unwrap();
    picks(&hub, ada.id).await;
    let examples = |hub: &Hub| {
        let slot = hub.recommender.cache.entry(Owner::Reader(ada.id));
        let entry = slot.try_lock().unwrap();
        entry.model.examples().len()
    };
    assert_eq!(examples(&hub), 1);
    hub.store.set_vote(ada.id, &id(1, 3), true).await.unwrap();
    let items = picks(&hub, ada.id).await;
    assert_eq!(examples(&hub), 2);
    assert!(
        !ids(&items).contains(&id(1, 3)),
        "a voted paper is not picked"
    );
    hub.store.set_vote(ada.id, &id(1, 3), false).await.unwrap();
    picks(&hub, ada.id).await;
    assert_eq!(examples(&hub), 1, "a withdrawn vote leaves the model");
}

#[tokio::test]
async fn a_collection_brings_more_like_it_and_a_papers_vector_arriving_later_is_used() {
    let hub = hub().await;
    let ada = user(&hub.store, "ada", false).await;
    let list = hub
        .store
        .create_collection(ada.id, "Stars", Utc::now())
        .await
        .unwrap();
    hub.store
        .add_to_collection(ada.id, list.id, &[id(1, 1), id(1, 2)], Utc::now())
        .await
        .unwrap();
    let items = hub
        .recommender
        .more_like_collection(&hub.store, &list, None, 5)
        .await
        .unwrap();
    assert_eq!(items.len(), 5);
    assert!(items[0].paper.title.starts_with("Galaxy surveys"));
    assert!(ids(&items).iter().all(|p| *p != id(1, 1) && *p != id(1, 2)));
    assert!(matches!(
        items[0].reasons.first(),
        Some(Because::Paper {
            kind: SignalKind::InCollection,
            ..
        })
    ));

    // A paper that arrives after the model was built (with its vector later still).
    let late = ArxivId::parse("2608.00500").unwrap();
    hub.store
        .upsert_papers(
            vec![new_paper(
                &late,
                1,
                9,
                NaiveDate::from_ymd_opt(2026, 8, 21).unwrap(),
            )],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    hub.recommender.catch_up(&hub.store).await.unwrap();
    hub.store
        .add_to_collection(ada.id, list.id, std::slice::from_ref(&late), Utc::now())
        .await
        .unwrap();
    hub.recommender
        .more_like_collection(&hub.store, &list, None, 5)
        .await
        .unwrap();
    let has_vector = |hub: &Hub| {
        let slot = hub.recommender.cache.entry(Owner::Collection(list.id));
        let entry = slot.try_lock().unwrap();
        entry
            .model
            .examples()
            .iter()
            .find(|e| e.source == Source::Paper(late.clone()))
            .map(|e| e.vector.is_some())
    };
    assert_eq!(has_vector(&hub), Some(false));
    hub.engine.add_vectors([(late.clone(), vector(1, 9))]);
    hub.recommender
        .more_like_collection(&hub.store, &list, None, 5)
        .await
        .unwrap();
    assert_eq!(has_vector(&hub), Some(true));
}

#[tokio::test]
async fn on_a_hub_larger_than_the_newest_candidates_the_papers_near_the_model_are_candidates() {
    let mut hub = hub().await;
    hub.recommender.newest_candidates = 2;
    let ada = user(&hub.store, "ada", false).await;
    add_seed(&hub.store, ada.id, &id(1, 0), Utc::now())
        .await
        .unwrap();
    let items = picks(&hub, ada.id).await;
    assert!(
        items.len() > 2,
        "more than the two newest papers: the model's neighbours, {:?}",
        ids(&items)
    );
    assert!(items[0].paper.title.starts_with("Galaxy surveys"));
    let slot = hub.recommender.cache.entry(Owner::Reader(ada.id));
    let (first, found) = {
        let entry = slot.lock().await;
        (entry.generation, entry.neighbours.len())
    };
    assert!(found > 2);

    // A new positive: its own neighbours join at once (all are found again in the background).
    add_seed(&hub.store, ada.id, &id(0, 3), Utc::now())
        .await
        .unwrap();
    let items = picks(&hub, ada.id).await;
    assert!(
        items
            .iter()
            .any(|i| i.paper.title.starts_with("Protein folding")),
        "{:?}",
        ids(&items)
    );
    assert_eq!(
        slot.lock().await.generation,
        first + 1,
        "one change of the model"
    );
}
