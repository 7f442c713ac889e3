//! The vector index: search quality against exact float search, and what the files promise
//! (append, commit, crash, reopen, compaction).

use std::collections::HashSet;

use super::*;
use crate::OpenOutcome;

fn id(n: usize) -> ArxivId {
    ArxivId::parse(&format!("2401.{n:05}")).unwrap()
}

/// Deterministic pseudo-random numbers in [-0.5, 0.5).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt().max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|c| *c /= norm);
    v
}

/// Deterministic pseudo-random unit vectors.
fn unit(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = Rng(seed.wrapping_mul(7919).wrapping_add(1));
    normalised((0..dim).map(|_| rng.next()).collect())
}

/// Vectors with the structure of sentence embeddings: a direction every paper shares, a few
/// hundred topics, each paper a mixture of two topics plus its own noise.
fn structured(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    let common: Vec<f32> = (0..dim).map(|_| rng.next() * 0.6).collect();
    let topics: Vec<Vec<f32>> = (0..200).map(|t| unit(1_000 + t, dim)).collect();
    (0..n)
        .map(|_| {
            let a = &topics[((rng.next() + 0.5) * 199.0) as usize];
            let b = &topics[((rng.next() + 0.5) * 199.0) as usize];
            let w = rng.next() + 0.5;
            normalised(
                (0..dim)
                    .map(|i| common[i] + w * a[i] + (1.0 - w) * 0.5 * b[i] + 0.35 * rng.next())
                    .collect(),
            )
        })
        .collect()
}

/// The `k` nearest rows by exact float dot products.
fn exact(vectors: &[Vec<f32>], query: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (dot(query, v), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

fn ids_of(hits: &[Neighbour]) -> Vec<ArxivId> {
    hits.iter().map(|h| h.id.clone()).collect()
}

#[test]
fn dot_matches_the_naive_sum() {
    let a = unit(1, 385);
    let b = unit(2, 385);
    let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    assert!((dot(&a, &b) - naive).abs() < 1e-5);
}

#[test]
fn exact_search_finds_the_vector_itself_first_and_can_exclude_it() {
    let mut index = VectorIndex::new(1000);
    index
        .insert((0..100).map(|n| (id(n), unit(n as u64, 16))))
        .unwrap();
    let hits = index.nearest(&unit(7, 16), 3, None);
    assert_eq!(hits[0].id, id(7));
    assert!((hits[0].similarity - 1.0).abs() < 1e-2);
    let hits = index.nearest(&unit(7, 16), 3, Some(&id(7)));
    assert!(hits.iter().all(|h| h.id != id(7)));
    assert_eq!(hits.len(), 3);
    assert!(!index.is_approximate());
}

#[test]
fn the_sign_passes_and_exact_scoring_find_the_exact_top_ten_at_least_95_times_in_100() {
    let dim = 384;
    let vectors = structured(30_000, dim, 42);
    let mut index = VectorIndex::new(1_000);
    index
        .insert(vectors.iter().enumerate().map(|(i, v)| (id(i), v.clone())))
        .unwrap();
    assert!(index.is_approximate());
    // Queries: other papers of the same distribution, not in the index.
    let queries = structured(100, dim, 4242);
    let mut found = 0;
    for query in &queries {
        let truth: HashSet<ArxivId> = exact(&vectors, query, 10).into_iter().map(id).collect();
        found += index
            .nearest(query, 10, None)
            .iter()
            .filter(|h| truth.contains(&h.id))
            .count();
    }
    let recall = found as f64 / 1000.0;
    assert!(recall >= 0.95, "recall@10: {recall}");
}

#[test]
fn a_replaced_vector_wins_and_a_removed_one_is_gone() {
    let mut index = VectorIndex::new(1000);
    index
        .insert((0..10).map(|n| (id(n), unit(n as u64, 8))))
        .unwrap();
    index.insert([(id(3), unit(99, 8))]).unwrap();
    assert_eq!(index.len(), 10);
    assert_eq!(index.rows(), 11, "the old row stays until a compaction");
    assert_eq!(index.nearest(&unit(99, 8), 1, None)[0].id, id(3));
    let got = index.get(&id(3)).unwrap();
    assert!(dot(&got, &unit(99, 8)) > 0.999);
    index.remove(&[id(3)]).unwrap();
    assert!(!index.contains(&id(3)));
    assert_eq!(index.len(), 9);
    assert!(
        index
            .nearest(&unit(99, 8), 10, None)
            .iter()
            .all(|h| h.id != id(3))
    );
    index.insert([(id(3), unit(55, 8))]).unwrap();
    assert_eq!(
        index.nearest(&unit(55, 8), 1, None)[0].id,
        id(3),
        "back after a removal"
    );
}

#[test]
fn a_vector_of_another_length_is_refused_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut index, _) = VectorIndex::open_or_create(dir.path(), "m", 100).unwrap();
    assert_eq!(index.insert([(id(1), unit(1, 12))]).unwrap(), 0);
    let refused = index
        .insert([
            (id(2), vec![1.0; 3]),
            (id(3), vec![f32::NAN; 12]),
            (id(4), unit(4, 12)),
        ])
        .unwrap();
    assert_eq!(refused, 2, "the wrong length and the NaN");
    assert_eq!(index.len(), 2);
    assert!(
        index.nearest(&[1.0; 3], 5, None).is_empty(),
        "a query of another length"
    );
    drop(index);
    let (index, _) = VectorIndex::open_or_create(dir.path(), "m", 100).unwrap();
    assert_eq!((index.dim(), index.len()), (12, 2));
}

/// An index on disk with `n` vectors of 16 dimensions, committed with a watermark.
fn on_disk(dir: &Path, n: usize) -> VectorIndex {
    let (index, outcome) = VectorIndex::open_or_create(dir, "m", 50).unwrap();
    assert_eq!(outcome, OpenOutcome::Fresh);
    let staged = index
        .stage(
            (0..n).map(|i| (id(i), unit(i as u64, 16))),
            Vec::new(),
            Some(VectorWatermark {
                seq: 7,
                id: id(n - 1),
            }),
        )
        .unwrap();
    let mut index = index;
    index.publish(staged).unwrap();
    index.commit().unwrap();
    index
}

#[test]
fn a_reopened_index_answers_as_before_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let index = on_disk(dir.path(), 200);
    let before = index.nearest(&unit(17, 16), 5, None);
    drop(index);
    let (index, outcome) = VectorIndex::open_or_create(dir.path(), "m", 50).unwrap();
    assert_eq!(outcome, OpenOutcome::Reused);
    assert_eq!(index.len(), 200);
    assert_eq!(
        index.watermark(),
        Some(&VectorWatermark {
            seq: 7,
            id: id(199)
        })
    );
    assert_eq!(index.nearest(&unit(17, 16), 5, None), before);
    assert!(index.is_writable());
}

#[test]
fn rows_cut_short_by_a_crash_are_dropped_and_every_committed_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let index = on_disk(dir.path(), 100);
    // An append that wrote its rows but crashed before its commit record, and in the middle
    // of a row of the last file.
    let staged = index
        .stage(
            (100..150).map(|i| (id(i), unit(i as u64, 16))),
            Vec::new(),
            Some(VectorWatermark {
                seq: 8,
                id: id(149),
            }),
        )
        .unwrap();
    drop(staged);
    drop(index);
    let ids = dir.path().join("ids-0.bin");
    let len = std::fs::metadata(&ids).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ids)
        .unwrap()
        .set_len(len - 13)
        .unwrap();

    let (mut index, outcome) = VectorIndex::open_or_create(dir.path(), "m", 50).unwrap();
    assert_eq!(outcome, OpenOutcome::Reused);
    assert_eq!(index.len(), 100);
    assert_eq!(
        index.watermark().unwrap().seq,
        7,
        "the last commit's watermark"
    );
    assert!(index.contains(&id(99)) && !index.contains(&id(100)));
    assert_eq!(index.nearest(&unit(42, 16), 1, None)[0].id, id(42));
    // Appending after the cut lines up with the committed rows.
    index.insert([(id(500), unit(500, 16))]).unwrap();
    drop(index);
    let (index, _) = VectorIndex::open_or_create(dir.path(), "m", 50).unwrap();
    assert_eq!(index.len(), 101);
    assert_eq!(index.nearest(&unit(500, 16), 1, None)[0].id, id(500));
    assert_eq!(index.nearest(&unit(99, 16), 1, None)[0].id, id(99));
}

#[test]
fn a_file_shorter_than_its_commit_record_says_makes_a_fresh_index() {
    let dir = tempfile::tempdir().unwrap();
    drop(on_disk(dir.path(), 100));
    let rows = dir.path().join("rows-0.bin");
    let len = std::fs::metadata(&rows).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&rows)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let (index, outcome) = VectorIndex::open_or_create(dir.path(), "m", 50).unwrap();
    assert!(
        matches!(&outcome, OpenOutcome::Rebuilt { reason } if reason.contains("damaged")),
        "{outcome:?}"
    );
    assert!(index.is_empty());
    assert_eq!(
        index.watermark(),
        None,
        "the store feeds it again from the start"
    );
}

#[test]
fn an_index_of_another_model_is_replaced_by_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    drop(on_disk(dir.path(), 10));
    let (index, outcome) = VectorIndex::open_or_create(dir.path(), "other", 50).unwrap();
    assert!(
        matches!(outcome, OpenOutcome::Rebuilt { .. }),
        "{outcome:?}"
    );
    assert!(index.is_empty());
}

#[test]
fn compaction_drops_dead_rows_keeps_answers_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = on_disk(dir.path(), 3_000);
    // Replace 1 500 vectors: dead rows pass the fraction and the minimum.
    index
        .insert((0..1_500).map(|i| (id(i), unit(10_000 + i as u64, 16))))
        .unwrap();
    assert_eq!(index.len(), 3_000);
    assert_eq!(index.rows(), 3_000, "compacted right after the insert");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with("-0.bin")),
        "the old generation is gone: {names:?}"
    );
    assert_eq!(index.nearest(&unit(10_007, 16), 1, None)[0].id, id(7));
    assert_eq!(index.nearest(&unit(2_500, 16), 1, None)[0].id, id(2_500));
    let before = index.nearest(&unit(3, 16), 10, None);
    drop(index);
    let (index, outcome) = VectorIndex::open_or_create(dir.path(), "m", 50).unwrap();
    assert_eq!(outcome, OpenOutcome::Reused);
    assert_eq!((index.len(), index.rows()), (3_000, 3_000));
    assert_eq!(index.watermark().unwrap().seq, 7);
    assert_eq!(index.nearest(&unit(3, 16), 10, None), before);
}

#[test]
fn files_of_a_compaction_cut_short_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let index = on_disk(dir.path(), 100);
    let compacted = index.compacted().unwrap();
    drop(compacted);
    drop(index);
    assert!(dir.path().join("rows-1.bin").exists());
    let (index, _) = VectorIndex::open_or_create(dir.path(), "m", 50).unwrap();
    assert_eq!(index.len(), 100);
    assert!(!dir.path().join("rows-1.bin").exists());
}

#[test]
fn a_second_opener_reads_the_index_and_writes_once_the_first_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let writer = on_disk(dir.path(), 20);
    let (reader, _) = VectorIndex::open_or_create(dir.path(), "m", 50).unwrap();
    assert!(!reader.is_writable());
    assert_eq!(reader.len(), 20);
    assert!(matches!(
        reader.stage([(id(99), unit(99, 16))], Vec::new(), None),
        Err(VectorError::Locked)
    ));
    assert!(reader.reopen_writable().is_none(), "still held");
    drop(writer);
    let (reopened, _) = reader.reopen_writable().unwrap().unwrap();
    assert!(reopened.is_writable());
    assert_eq!(reopened.len(), 20);
}

#[test]
fn vectors_added_one_by_one_get_codes_around_a_centre_taken_again_as_the_index_grows() {
    let dim = 64;
    let vectors = structured(3_000, dim, 7);
    let mut index = VectorIndex::new(100);
    for chunk in vectors.chunks(10).take(300) {
        let start = index.rows();
        index
            .insert(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (id(start + i), v.clone())),
            )
            .unwrap();
    }
    assert_eq!(index.len(), 3_000);
    assert!(
        index.centre_rows >= 750,
        "centre from {} vectors",
        index.centre_rows
    );
    let query = &structured(1, dim, 99)[0];
    let truth: HashSet<ArxivId> = exact(&vectors, query, 10).into_iter().map(id).collect();
    let found = index
        .nearest(query, 10, None)
        .iter()
        .filter(|h| truth.contains(&h.id))
        .count();
    assert!(found >= 9, "{found} of 10");
    assert_eq!(ids_of(&index.nearest(&vectors[5], 1, None)), [id(5)]);
}
