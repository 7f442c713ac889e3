//! The vector index at scale (issue 18): builds an index on disk from N vectors, reopens it as
//! `serve` would, and measures build time, query latency (p50/p99), recall@10 against exact
//! float search, the index's size on disk and this process's memory. `scripts/bench-vectors`
//! runs it.
//!
//! usage: `vector_bench N [--queries Q] [--dir DIR] [--vectors FILE.npy] [--sweep]`
//!
//! Vectors: `--vectors` reads the first N rows of a `.npy` file of 384-d float32 rows (as
//! `scripts/make-scale-corpus` writes, derived from real all-MiniLM-L6-v2 vectors); without it
//! N vectors are synthesised with the structure of sentence embeddings (a direction all share,
//! 40 fields of 25 topics, each paper a mixture of two topics of mostly one field, and
//! per-dimension noise), and their similarity statistics are printed beside what MiniLM
//! vectors of arXiv abstracts show. Queries are Q more vectors of the same kind, held out of
//! the index (one query per "paper not yet indexed"). `--sweep` also prints recall and latency
//! at other depths than the default.

use std::io::{BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use paperfeed_core::ArxivId;
use paperfeed_search::{Depth, VectorIndex, VectorWatermark, dot};

type Error = Box<dyn std::error::Error>;

const DIM: usize = 384;
/// Vectors per append, as the indexer pages them from the store.
const PAGE: usize = 8192;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit_f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A standard normal (Box–Muller).
    fn normal(&mut self) -> f32 {
        let u = self.unit_f32().max(1e-7);
        let v = self.unit_f32();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt().max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn random_unit(rng: &mut Rng) -> Vec<f32> {
    normalised((0..DIM).map(|_| rng.normal()).collect())
}

/// Synthetic sentence-embedding-like vectors (see the module comment).
struct Synthetic {
    common: Vec<f32>,
    topics: Vec<Vec<f32>>,
    scale: Vec<f32>,
}

const FIELDS: usize = 40;
const TOPICS_PER_FIELD: usize = 25;

impl Synthetic {
    fn new(rng: &mut Rng) -> Synthetic {
        let common = random_unit(rng);
        let mut topics = Vec::new();
        for _ in 0..FIELDS {
            let field = random_unit(rng);
            for _ in 0..TOPICS_PER_FIELD {
                let own = random_unit(rng);
                topics.push(normalised(
                    field.iter().zip(&own).map(|(f, o)| f + 0.9 * o).collect(),
                ));
            }
        }
        // Real embeddings spread unevenly over their dimensions.
        let scale = (0..DIM).map(|_| 0.5 + rng.unit_f32()).collect();
        Synthetic {
            common,
            topics,
            scale,
        }
    }

    fn paper(&self, rng: &mut Rng) -> Vec<f32> {
        let a = rng.below(self.topics.len());
        // Mostly a topic of the same field, sometimes of another.
        let b = if rng.below(4) == 0 {
            rng.below(self.topics.len())
        } else {
            a / TOPICS_PER_FIELD * TOPICS_PER_FIELD + rng.below(TOPICS_PER_FIELD)
        };
        let w = 0.5 + 0.5 * rng.unit_f32();
        let noise = 0.055;
        normalised(
            (0..DIM)
                .map(|i| {
                    0.45 * self.common[i]
                        + w * self.topics[a][i]
                        + (1.0 - w) * self.topics[b][i]
                        + noise * self.scale[i] * rng.normal()
                })
                .collect(),
        )
    }
}

/// Vectors of [`DIM`] components back to back: one allocation, which goes back to the system
/// when dropped, so the memory measured after it is the index's.
struct Flat(Vec<f32>);

impl Flat {
    fn len(&self) -> usize {
        self.0.len() / DIM
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.0[i * DIM..(i + 1) * DIM]
    }

    fn push(&mut self, v: &[f32]) {
        self.0.extend_from_slice(v);
    }
}

/// The first `n` rows of a `.npy` file of float32 rows of [`DIM`] components.
fn read_npy(path: &Path, n: usize) -> Result<Vec<Vec<f32>>, Error> {
    let mut file = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(format!("{}: not a .npy file", path.display()).into());
    }
    let header_len = if magic[6] == 1 {
        let mut b = [0u8; 2];
        file.read_exact(&mut b)?;
        usize::from(u16::from_le_bytes(b))
    } else {
        let mut b = [0u8; 4];
        file.read_exact(&mut b)?;
        u32::from_le_bytes(b) as usize
    };
    let mut header = vec![0u8; header_len];
    file.read_exact(&mut header)?;
    let header = String::from_utf8_lossy(&header);
    if !header.contains("'<f4'") || !header.contains(&format!(", {DIM})")) {
        return Err(format!("{}: not float32 rows of {DIM}: {header}", path.display()).into());
    }
    let mut rows = Vec::with_capacity(n);
    let mut bytes = vec![0u8; DIM * 4];
    while rows.len() < n && file.read_exact(&mut bytes).is_ok() {
        rows.push(normalised(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ));
    }
    Ok(rows)
}

/// A valid, distinct arXiv id for row `row` (new style, from January 2015 on).
fn id(row: usize) -> Result<ArxivId, Error> {
    let month = row / 99_999;
    let (yy, mm) = (15 + month / 12, month % 12 + 1);
    Ok(ArxivId::parse(&format!(
        "{yy:02}{mm:02}.{:05}",
        row % 99_999 + 1
    ))?)
}

fn row_of(id: &ArxivId) -> usize {
    let s = id.as_str();
    let (yy, mm): (usize, usize) = (s[..2].parse().unwrap_or(0), s[2..4].parse().unwrap_or(0));
    let number: usize = s[5..].parse().unwrap_or(0);
    ((yy - 15) * 12 + mm - 1) * 99_999 + number - 1
}

/// The `k` nearest rows to `query` by exact float dot products (on rayon's threads).
fn exact(vectors: &Flat, query: &[f32], k: usize) -> Vec<usize> {
    use rayon::prelude::*;
    let mut scored: Vec<(f32, usize)> = vectors
        .0
        .par_chunks(DIM)
        .enumerate()
        .map(|(i, v)| (dot(query, v), i))
        .collect();
    scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
    scored.truncate(k);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// This process's resident and peak resident memory, MB.
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Recall@10 and latencies (ms, sorted) of `queries` at `depth`.
fn measure(
    index: &VectorIndex,
    queries: &[Vec<f32>],
    truth: &[Vec<usize>],
    depth: Depth,
) -> (f64, Vec<f64>) {
    let mut found = 0usize;
    let mut times = Vec::with_capacity(queries.len());
    for (query, truth) in queries.iter().zip(truth) {
        let started = Instant::now();
        let hits = index.nearest_at(query, 10, None, depth);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        found += hits
            .iter()
            .filter(|h| truth.contains(&row_of(&h.id)))
            .count();
    }
    times.sort_by(f64::total_cmp);
    (found as f64 / (10 * queries.len()).max(1) as f64, times)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut n = 100_000usize;
    let mut query_count = 200usize;
    let mut dir: Option<PathBuf> = None;
    let mut npy: Option<PathBuf> = None;
    let mut sweep = false;
    let mut search_dir: Option<PathBuf> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--search" => search_dir = Some(rest.next().ok_or("--search DIR")?.into()),
            "--queries" => query_count = rest.next().ok_or("--queries Q")?.parse()?,
            "--dir" => dir = Some(rest.next().ok_or("--dir DIR")?.into()),
            "--vectors" => npy = Some(rest.next().ok_or("--vectors FILE.npy")?.into()),
            "--sweep" => sweep = true,
            number => n = number.replace('_', "").parse()?,
        }
    }
    if let Some(dir) = search_dir {
        return search(&dir, sweep);
    }
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("vector-bench-{n}")));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }

    let started = Instant::now();
    let mut rng = Rng(0x5EED_0018);
    let (vectors, queries) = match &npy {
        Some(path) => {
            let mut all = read_npy(path, n + query_count)?;
            if all.len() <= query_count {
                return Err(format!("{}: only {} rows", path.display(), all.len()).into());
            }
            // Queries: rows spread over the file, held out of the index.
            let step = all.len() / query_count;
            let mut queries = Vec::with_capacity(query_count);
            for q in (0..query_count).rev() {
                queries.push(all.remove(q * step));
            }
            println!("vectors: {} rows of {}", all.len(), path.display());
            let mut flat = Flat(Vec::with_capacity(all.len() * DIM));
            all.iter().for_each(|v| flat.push(v));
            (flat, queries)
        }
        None => {
            let synthetic = Synthetic::new(&mut rng);
            let mut vectors = Flat(Vec::with_capacity(n * DIM));
            for _ in 0..n {
                vectors.push(&synthetic.paper(&mut rng));
            }
            let queries = (0..query_count)
                .map(|_| synthetic.paper(&mut rng))
                .collect();
            println!("vectors: {n} synthetic (no --vectors file)");
            (vectors, queries)
        }
    };
    let n = vectors.len();
    println!("made in {:.1} s", started.elapsed().as_secs_f64());

    // How the vectors compare with real ones: MiniLM vectors of arXiv abstracts have a mean
    // cosine of about 0.1 to 0.2 between random papers, and a nearest neighbour at about 0.7
    // to 0.8 in a collection of 100 000.
    let random_pairs: f32 = (0..2000)
        .map(|_| dot(vectors.row(rng.below(n)), vectors.row(rng.below(n))))
        .sum::<f32>()
        / 2000.0;

    // Exact answers, before the index exists (its memory is measured apart).
    let started = Instant::now();
    let truth: Vec<Vec<usize>> = queries.iter().map(|q| exact(&vectors, q, 10)).collect();
    let nearest: f32 = queries
        .iter()
        .zip(&truth)
        .map(|(q, t)| dot(q, vectors.row(t[0])))
        .sum::<f32>()
        / queries.len() as f32;
    println!(
        "similarity: random pairs {random_pairs:.3}, query to its nearest {nearest:.3}; exact \
         search {:.1} ms a query",
        started.elapsed().as_secs_f64() * 1000.0 / queries.len() as f32 as f64
    );

    // Build: appended a page at a time, each committed with a watermark, as the indexer does.
    let started = Instant::now();
    let (mut index, _) = VectorIndex::open_or_create(&dir, "all-MiniLM-L6-v2", 20_000)?;
    let mut rows = 0;
    for (page, chunk) in vectors.0.chunks(PAGE * DIM).enumerate() {
        let items = chunk
            .chunks_exact(DIM)
            .enumerate()
            .map(|(i, v)| Ok((id(page * PAGE + i)?, v.to_vec())))
            .collect::<Result<Vec<_>, Error>>()?;
        let watermark = VectorWatermark {
            seq: page as i64,
            id: id(page * PAGE + chunk.len() / DIM - 1)?,
        };
        let staged = index.stage(items, Vec::new(), Some(watermark))?;
        index.publish(staged)?;
        index.commit()?;
        if index.needs_compaction() {
            let compacted = index.compacted()?;
            index.install(compacted)?;
        }
        rows += chunk.len() / DIM;
    }
    let build = started.elapsed().as_secs_f64();
    println!(
        "build: {rows} vectors in {build:.1} s ({:.0} vectors/s); on disk {:.1} MB",
        rows as f64 / build,
        index.disk_bytes() as f64 / 1e6
    );
    drop(index);
    drop(vectors);

    // The queries and their exact answers, for the process that searches.
    let mut saved = Vec::new();
    for (query, truth) in queries.iter().zip(&truth) {
        query
            .iter()
            .for_each(|x| saved.extend_from_slice(&x.to_le_bytes()));
        truth
            .iter()
            .for_each(|&row| saved.extend_from_slice(&(row as u32).to_le_bytes()));
    }
    let saved_path = dir.with_extension("queries");
    std::fs::write(&saved_path, saved)?;
    // A fresh process opens the index as `serve` does: its memory is the index's alone.
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--search")
        .arg(&dir)
        .args(sweep.then_some("--sweep"))
        .status()?;
    std::fs::remove_file(&saved_path)?;
    if !status.success() {
        return Err(format!("the searching process failed: {status}").into());
    }
    Ok(())
}

/// The second process: opens the index in `dir` and runs the saved queries.
fn search(dir: &Path, sweep: bool) -> Result<(), Error> {
    let saved = std::fs::read(dir.with_extension("queries"))?;
    let record = DIM * 4 + 10 * 4;
    let (mut queries, mut truth) = (Vec::new(), Vec::new());
    for chunk in saved.chunks_exact(record) {
        let (query, rows) = chunk.split_at(DIM * 4);
        let word = |c: &[u8]| [c[0], c[1], c[2], c[3]];
        queries.push(
            query
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(word(c)))
                .collect::<Vec<f32>>(),
        );
        truth.push(
            rows.chunks_exact(4)
                .map(|c| u32::from_le_bytes(word(c)) as usize)
                .collect::<Vec<usize>>(),
        );
    }
    let (rss, _) = rss_mb();
    // Start as `serve` does: open the files, nothing rebuilt.
    let started = Instant::now();
    let (index, outcome) = VectorIndex::open_or_create(dir, "all-MiniLM-L6-v2", 20_000)?;
    println!(
        "reopen: {:?} with {} vectors in {:.0} ms",
        outcome,
        index.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    let depth = index.depth(10);
    // One pass to warm the page cache and the maps, then the measured one.
    let _ = measure(&index, &queries, &truth, depth);
    let (recall, times) = measure(&index, &queries, &truth, depth);
    let peak = rss_mb().1;
    let n = index.len();
    println!(
        "query (k = 10, depth {} / {}): p50 {:.2} ms, p99 {:.2} ms, recall@10 {recall:.3} over {} \
         queries",
        depth.coarse,
        depth.fine,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        queries.len()
    );
    println!(
        "memory: RSS {:.0} MB with the index open after the queries (peak {peak:.0} MB; the \
         process before opening it: {rss:.0} MB)",
        rss_mb().0
    );
    if sweep {
        println!("sweep: coarse fine recall@10 p50_ms p99_ms");
        let coarse = [0.01, 0.02, 0.04, 0.08, 0.16];
        let fine = [100, 250, 500, 1000, 2000, 4000];
        for c in coarse {
            for f in fine {
                let depth = Depth {
                    coarse: ((n as f64 * c) as usize).max(f),
                    fine: f,
                };
                let (recall, times) = measure(&index, &queries, &truth, depth);
                println!(
                    "sweep: {} {} {recall:.3} {:.2} {:.2}",
                    depth.coarse,
                    depth.fine,
                    percentile(&times, 0.5),
                    percentile(&times, 0.99)
                );
            }
        }
    }
    Ok(())
}
