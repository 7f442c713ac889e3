//! `paperfeed eval --recommend`: the recommender against arxiv-sanity-lite's SVM, popularity and
//! random, on simulated readers built from the real data in the store (see [`readers`]). One
//! run, one table.
//!
//! Every method sees the same readers, the same signals and the same candidates: the papers
//! featured after the reader's last signal. A reader's future is what they went on to submit (or
//! what went on to carry their keyword). recall@20 is the share of that future found in the
//! first 20, out of at most 20 (a reader with 100 future papers can reach 1); nDCG@20 has binary
//! gains.

mod readers;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use paperfeed_core::{ArxivId, Paper};
use paperfeed_search::MODEL_NAME;
use paperfeed_search::recommend::{
    Background, Candidate, Example, PaperText, RankSettings, ReaderModel, SignalKind, Source,
    SparseVector, TermStats, recommend, term_counts,
};
use paperfeed_store::Store;
use readers::{Reader, SimPaper};

use crate::cli::EvalArgs;
use crate::settings::Settings;

/// Picks each method makes per reader.
const K: usize = 20;

/// arxiv-sanity-lite's method, run by the Python interpreter given (scikit-learn needed).
const SVM_SCRIPT: &str = include_str!("recommend_eval/svm_baseline.py");

/// The store's papers that can take part: featured on a day, with a vector.
struct Corpus {
    papers: Vec<Paper>,
    sim: Vec<SimPaper>,
    vectors: Vec<Vec<f32>>,
    terms: Vec<SparseVector>,
    background: Background,
}

async fn load(store: &dyn Store) -> anyhow::Result<Corpus> {
    let mut papers = Vec::new();
    let mut since = 0;
    loop {
        let page = store.papers_changed_since(since, 1000).await?;
        let Some(last) = page.last().map(|c| c.change_seq) else {
            break;
        };
        since = last;
        papers.extend(page.into_iter().map(|c| c.paper));
    }
    let mut vectors: HashMap<ArxivId, Vec<f32>> = store
        .embeddings(MODEL_NAME)
        .await?
        .into_iter()
        .map(|v| (v.id, v.vector))
        .collect();
    papers.retain(|p| p.first_featured().is_some() && vectors.contains_key(&p.id));
    papers.sort_by(|a, b| a.id.cmp(&b.id));
    anyhow::ensure!(
        !papers.is_empty(),
        "no featured paper with a vector in the store: ingest ../shared/data/hf_daily_papers and \
         make sure the embedding model is there (scripts/fetch-model)"
    );
    let vectors: Vec<Vec<f32>> = papers
        .iter()
        .map(|p| vectors.remove(&p.id).unwrap_or_default())
        .collect();
    let authors: Vec<Vec<String>> = papers
        .iter()
        .map(|p| p.authors.iter().map(|a| a.name.clone()).collect())
        .collect();
    let texts: Vec<PaperText<'_>> = papers
        .iter()
        .zip(&authors)
        .map(|(p, a)| PaperText {
            title: &p.title,
            abstract_text: &p.abstract_text,
            authors: a,
        })
        .collect();
    let mut stats = TermStats::new();
    let counts: Vec<_> = texts.iter().map(term_counts).collect();
    counts.iter().for_each(|c| stats.add(c));
    let terms = counts.iter().map(|c| stats.weigh(c)).collect();
    let background = Background::new(stats, vectors.iter().map(Vec::as_slice));
    let sim = papers
        .iter()
        .map(|p| SimPaper {
            date: p.first_featured().unwrap_or_default(),
            submitter: p
                .featured
                .first()
                .and_then(|f| f.submitter.as_ref())
                .map(|s| s.name.clone()),
            keywords: p.ai_keywords.clone(),
        })
        .collect();
    Ok(Corpus {
        papers,
        sim,
        vectors,
        terms,
        background,
    })
}

impl Corpus {
    /// The candidates of a reader: papers featured after their cut, in id order.
    fn pool(&self, reader: &Reader) -> Vec<usize> {
        (0..self.papers.len())
            .filter(|&i| self.sim[i].date > reader.cut)
            .collect()
    }
}

/// recall@K (out of at most K) and nDCG@K of one ranking.
fn metrics(ranking: &[usize], future: &HashSet<usize>) -> (f64, f64) {
    let ideal = future.len().min(K);
    if ideal == 0 {
        return (0.0, 0.0);
    }
    let gain = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let mut hits = 0;
    let mut dcg = 0.0;
    for (rank, i) in ranking.iter().take(K).enumerate() {
        if future.contains(i) {
            hits += 1;
            dcg += gain(rank);
        }
    }
    let idcg: f64 = (0..ideal).map(gain).sum();
    (hits as f64 / ideal as f64, dcg / idcg)
}

/// The recommender as the app runs it: the reader's signals as saved papers, default settings;
/// recency plays no part (every candidate comes after the last signal, so `today` is the cut).
fn ours(corpus: &Corpus, reader: &Reader) -> Vec<usize> {
    let model = ReaderModel::from_examples(reader.positives.iter().map(|&i| Example {
        source: Source::Paper(corpus.papers[i].id.clone()),
        kind: SignalKind::Saved,
        vector: Some(corpus.vectors[i].clone()),
        terms: corpus.terms[i].clone(),
    }));
    let pool = corpus.pool(reader);
    let candidates: Vec<Candidate<'_>> = pool
        .iter()
        .map(|&i| Candidate {
            id: &corpus.papers[i].id,
            vector: &corpus.vectors[i],
            terms: &corpus.terms[i],
            popularity: corpus.papers[i].upvotes.max(0) as f64,
            date: Some(corpus.sim[i].date),
        })
        .collect();
    let mut settings = RankSettings::new(reader.cut);
    settings.limit = K;
    let row: HashMap<&ArxivId, usize> = pool.iter().map(|&i| (&corpus.papers[i].id, i)).collect();
    recommend(
        &model,
        &corpus.background,
        &candidates,
        &HashSet::new(),
        &settings,
    )
    .iter()
    .filter_map(|pick| row.get(&pick.id).copied())
    .collect()
}

fn popularity(corpus: &Corpus, reader: &Reader) -> Vec<usize> {
    let mut pool = corpus.pool(reader);
    pool.sort_by_key(|&i| std::cmp::Reverse(corpus.papers[i].upvotes));
    pool.truncate(K);
    pool
}

/// A seeded shuffle (SplitMix64 keyed by the reader's name): the same every run.
fn random(corpus: &Corpus, reader: &Reader) -> Vec<usize> {
    let mut state = paperfeed_core::fingerprint(&reader.name) as u64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut pool = corpus.pool(reader);
    for i in (1..pool.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        pool.swap(i, j);
    }
    pool.truncate(K);
    pool
}

/// arxiv-sanity-lite's SVM for every reader, in one Python run: the corpus and readers go in a
/// JSON file under `work`, the rankings come back in another.
fn svm(
    corpus: &Corpus,
    readers: &[&Reader],
    python: &Path,
    work: &Path,
) -> anyhow::Result<Vec<Vec<usize>>> {
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    let script = work.join("svm_baseline.py");
    std::fs::write(&script, SVM_SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let papers: Vec<_> = corpus
        .papers
        .iter()
        .map(|p| {
            let authors: Vec<&str> = p.authors.iter().map(|a| a.name.as_str()).collect();
            serde_json::json!({
                "id": p.id.as_str(),
                "text": format!("{} {} {}", p.title, p.abstract_text, authors.join(" ")),
            })
        })
        .collect();
    let id = |i: &usize| corpus.papers[*i].id.as_str();
    let readers_json: Vec<_> = readers
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name,
                "positives": r.positives.iter().map(id).collect::<Vec<_>>(),
                "pool": corpus.pool(r).iter().map(id).collect::<Vec<_>>(),
            })
        })
        .collect();
    let input = work.join("svm_input.json");
    let output = work.join("svm_output.json");
    std::fs::write(
        &input,
        serde_json::to_vec(
            &serde_json::json!({"papers": papers, "readers": readers_json, "k": K}),
        )?,
    )
    .with_context(|| format!("writing {}", input.display()))?;
    let status = std::process::Command::new(python)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .status()
        .with_context(|| {
            format!(
                "running {} (the SVM baseline needs Python with scikit-learn: scripts/eval-recommend \
                 installs both into target/tools/eval-venv)",
                python.display()
            )
        })?;
    anyhow::ensure!(
        status.success(),
        "the SVM baseline failed ({status}) under {}: is scikit-learn installed for it? \
         (scripts/eval-recommend installs it into target/tools/eval-venv)",
        python.display()
    );
    let rankings: HashMap<String, Vec<String>> = serde_json::from_slice(
        &std::fs::read(&output).with_context(|| format!("reading {}", output.display()))?,
    )
    .with_context(|| format!("parsing {}", output.display()))?;
    let row: HashMap<&str, usize> = corpus
        .papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    readers
        .iter()
        .map(|r| {
            let ids = rankings
                .get(&r.name)
                .with_context(|| format!("the SVM baseline returned nothing for {}", r.name))?;
            Ok(ids
                .iter()
                .filter_map(|id| row.get(id.as_str()).copied())
                .collect())
        })
        .collect()
}

struct Row {
    method: &'static str,
    /// Per set: mean recall@K, mean nDCG@K.
    scores: Vec<(f64, f64)>,
    time: Duration,
}

pub async fn eval_recommend(settings: &Settings, args: &EvalArgs) -> anyhow::Result<()> {
    let (store, _indexer) = crate::search_cmd::ready_engine(settings).await?;
    let started = Instant::now();
    let corpus = load(&*store).await?;
    let loaded = started.elapsed();
    let sets: Vec<(&str, Vec<Reader>)> = vec![
        ("HF submitters", readers::submitters(&corpus.sim)),
        (
            "AI-keyword clusters",
            readers::keyword_clusters(&corpus.sim),
        ),
    ];
    for (name, readers) in &sets {
        anyhow::ensure!(
            !readers.is_empty(),
            "no {name} reader in this store's papers"
        );
    }
    let all: Vec<&Reader> = sets.iter().flat_map(|(_, r)| r.iter()).collect();
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let started_svm = Instant::now();
    let svm_rankings = svm(
        &corpus,
        &all,
        &python,
        &settings.data_dir.join("eval-recommend"),
    )?;
    let svm_time = started_svm.elapsed();
    let svm_of: HashMap<&str, &Vec<usize>> = all
        .iter()
        .map(|r| r.name.as_str())
        .zip(&svm_rankings)
        .collect();

    type Method<'a> = Box<dyn Fn(&Reader) -> Vec<usize> + 'a>;
    let methods: Vec<(&'static str, Method<'_>)> = vec![
        ("paperfeed", Box::new(|r: &Reader| ours(&corpus, r))),
        (
            "arxiv-sanity-lite SVM",
            Box::new(|r: &Reader| svm_of[r.name.as_str()].clone()),
        ),
        (
            "popularity (upvotes)",
            Box::new(|r: &Reader| popularity(&corpus, r)),
        ),
        ("random", Box::new(|r: &Reader| random(&corpus, r))),
    ];
    let mut rows = Vec::new();
    let mut per_reader: Vec<(String, Vec<f64>)> =
        all.iter().map(|r| (r.name.clone(), Vec::new())).collect();
    for (method, rank) in &methods {
        let started = Instant::now();
        let mut scores = Vec::new();
        let mut k = 0;
        for (_, readers) in &sets {
            let mut sum = (0.0, 0.0);
            for reader in readers {
                let future: HashSet<usize> = reader.future.iter().copied().collect();
                let (recall, ndcg) = metrics(&rank(reader), &future);
                per_reader[k].1.push(recall);
                k += 1;
                sum.0 += recall;
                sum.1 += ndcg;
            }
            scores.push((sum.0 / readers.len() as f64, sum.1 / readers.len() as f64));
        }
        let time = if *method == "arxiv-sanity-lite SVM" {
            svm_time
        } else {
            started.elapsed()
        };
        rows.push(Row {
            method,
            scores,
            time,
        });
    }

    if args.per_reader {
        println!(
            "{:<48} {:>9} {:>9} {:>9} {:>9}",
            "recall@20 per reader", "paperfeed", "svm", "popular", "random"
        );
        for (name, r) in &per_reader {
            println!(
                "{name:<48} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                r[0], r[1], r[2], r[3]
            );
        }
        println!();
    }
    println!(
        "{} papers with vectors (loaded and featurised in {:.1} s); readers: {}",
        corpus.papers.len(),
        loaded.as_secs_f64(),
        sets.iter()
            .map(|(name, r)| format!("{} {name}", r.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print!("{:<24}", "method");
    for (name, _) in &sets {
        print!(" | {:^25}", name);
    }
    println!(" | {:>8}", "time");
    print!("{:<24}", "");
    for _ in &sets {
        print!(" | {:>12} {:>12}", "recall@20", "nDCG@20");
    }
    println!(" |");
    for row in &rows {
        print!("{:<24}", row.method);
        for (recall, ndcg) in &row.scores {
            print!(" | {recall:>12.4} {ndcg:>12.4}");
        }
        println!(" | {:>6.1} s", row.time.as_secs_f64());
    }
    let ratio: Vec<String> = sets
        .iter()
        .enumerate()
        .map(|(s, (name, _))| {
            let ours = rows[0].scores[s].0;
            let svm = rows[1].scores[s].0;
            format!(
                "{name} {:.2}x",
                if svm > 0.0 { ours / svm } else { f64::INFINITY }
            )
        })
        .collect();
    println!(
        "paperfeed / SVM recall@20: {} (goal: 1.2x on both)",
        ratio.join(", ")
    );
    Ok(())
}
