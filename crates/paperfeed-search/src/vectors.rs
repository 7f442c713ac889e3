//! Nearest papers by embedding: one interface, two strategies. Below a configurable size every
//! query is an exact scan (dot products over one contiguous array, written so the compiler
//! vectorises them); above it an HNSW graph answers approximately, while vectors added since
//! the graph was built are scanned exactly until the next rebuild.

use std::collections::{HashMap, HashSet};

use instant_distance::{Builder, HnswMap, Point, Search};
use paperfeed_core::ArxivId;

/// Default size from which the HNSW graph is used.
pub const DEFAULT_EXACT_LIMIT: usize = 20_000;

/// Rebuild the graph once this share of the vectors lives outside it.
const REBUILD_FRACTION: f32 = 0.10;

/// A unit vector as the HNSW graph sees it; cosine distance is `1 - dot`.
#[derive(Clone, Debug)]
struct Unit(Vec<f32>);

impl Point for Unit {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(&self.0, &other.0)
    }
}

/// Dot product with eight independent accumulators, so the loop vectorises (a single running
/// float sum cannot be reordered by the compiler).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.len().min(b.len()) / 8;
    for i in 0..chunks {
        let (x, y) = (&a[i * 8..i * 8 + 8], &b[i * 8..i * 8 + 8]);
        for lane in 0..8 {
            acc[lane] += x[lane] * y[lane];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 8..a.len().min(b.len()) {
        sum += a[i] * b[i];
    }
    sum
}

/// One scored neighbour: cosine similarity, higher is closer.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    pub id: ArxivId,
    pub similarity: f32,
}

#[derive(Default)]
pub struct VectorIndex {
    dim: usize,
    exact_limit: usize,
    /// Every live vector, flat: row `i` is `data[i*dim..(i+1)*dim]`.
    data: Vec<f32>,
    ids: Vec<ArxivId>,
    rows: HashMap<ArxivId, usize>,
    /// Rows replaced or removed; skipped by scans, dropped at the next compaction.
    dead: HashSet<usize>,
    graph: Option<Graph>,
    /// Bumped whenever rows are renumbered (compaction): a graph built from an older
    /// numbering must not be installed.
    epoch: u64,
    /// A graph build is out (see [`VectorIndex::plan_graph`]).
    building: bool,
}

/// A graph build that runs without holding the index: a snapshot of rows `0..covered`.
pub struct GraphBuild {
    points: Vec<Unit>,
    epoch: u64,
}

/// A finished [`GraphBuild`], for [`VectorIndex::install_graph`].
pub struct BuiltGraph {
    graph: Graph,
    epoch: u64,
}

impl GraphBuild {
    /// Builds the HNSW graph: seconds to minutes for 100 000 vectors, so callers run it on a
    /// blocking thread with no lock held; searches meanwhile use the old graph (or scan).
    pub fn run(self) -> BuiltGraph {
        let covered = self.points.len();
        let values: Vec<usize> = (0..covered).collect();
        let map = Builder::default().seed(42).build(self.points, values);
        BuiltGraph {
            graph: Graph { map, covered },
            epoch: self.epoch,
        }
    }
}

struct Graph {
    map: HnswMap<Unit, usize>,
    /// Rows inside the graph; rows at or past this are scanned exactly.
    covered: usize,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("len", &self.len())
            .field("dim", &self.dim)
            .field("graph", &self.graph.is_some())
            .finish()
    }
}

impl VectorIndex {
    pub fn new(exact_limit: usize) -> Self {
        Self {
            exact_limit,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn contains(&self, id: &ArxivId) -> bool {
        self.rows.contains_key(id)
    }

    /// The stored vector of a paper.
    pub fn get(&self, id: &ArxivId) -> Option<&[f32]> {
        self.rows.get(id).map(|&row| self.row(row))
    }

    /// Every stored vector with its paper, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&ArxivId, &[f32])> + '_ {
        self.rows.iter().map(|(id, &row)| (id, self.row(row)))
    }

    /// Whether the approximate graph is in use.
    pub fn is_approximate(&self) -> bool {
        self.graph.is_some()
    }

    fn row(&self, row: usize) -> &[f32] {
        &self.data[row * self.dim..(row + 1) * self.dim]
    }

    /// Adds or replaces vectors. Vectors of another length than the first one are ignored
    /// (they come from another model) and counted in the return value.
    pub fn insert(&mut self, items: impl IntoIterator<Item = (ArxivId, Vec<f32>)>) -> usize {
        let refused = self.insert_rows(items);
        if let Some(build) = self.plan_graph() {
            self.install_graph(build.run());
        }
        refused
    }

    /// Adds or replaces vectors without (re)building the graph; follow with
    /// [`VectorIndex::plan_graph`]. Returns how many were refused, as [`VectorIndex::insert`].
    pub fn insert_rows(&mut self, items: impl IntoIterator<Item = (ArxivId, Vec<f32>)>) -> usize {
        let mut refused = 0;
        for (id, vector) in items {
            if self.dim == 0 {
                self.dim = vector.len();
            }
            if vector.len() != self.dim || self.dim == 0 {
                refused += 1;
                continue;
            }
            if let Some(old) = self.rows.remove(&id) {
                self.dead.insert(old);
            }
            let row = self.ids.len();
            self.data.extend_from_slice(&vector);
            self.ids.push(id.clone());
            self.rows.insert(id, row);
        }
        refused
    }

    pub fn remove(&mut self, id: &ArxivId) {
        if let Some(row) = self.rows.remove(id) {
            self.dead.insert(row);
        }
    }

    /// When the index has outgrown exact search or too much of it lies outside the graph:
    /// compacts it and returns a snapshot to build a new graph from. `None` when no build is
    /// needed or one is already out.
    pub fn plan_graph(&mut self) -> Option<GraphBuild> {
        let live = self.len();
        if live < self.exact_limit {
            self.graph = None;
            return None;
        }
        let outside =
            self.ids.len() - self.graph.as_ref().map_or(0, |g| g.covered) + self.dead.len();
        if self.building
            || (self.graph.is_some() && (outside as f32) < REBUILD_FRACTION * live as f32)
        {
            return None;
        }
        self.compact();
        self.building = true;
        Some(GraphBuild {
            points: (0..self.ids.len())
                .map(|r| Unit(self.row(r).to_vec()))
                .collect(),
            epoch: self.epoch,
        })
    }

    /// Puts a finished graph in use, unless the rows were renumbered since its snapshot.
    /// Rows added meanwhile lie past the graph and are scanned exactly; rows replaced meanwhile
    /// are dead and skipped.
    pub fn install_graph(&mut self, built: BuiltGraph) {
        self.building = false;
        if built.epoch == self.epoch && self.len() >= self.exact_limit {
            self.graph = Some(built.graph);
        }
    }

    fn compact(&mut self) {
        if self.dead.is_empty() {
            return;
        }
        let mut data = Vec::with_capacity(self.len() * self.dim);
        let mut ids = Vec::with_capacity(self.len());
        for (row, id) in self.ids.iter().enumerate() {
            if !self.dead.contains(&row) {
                data.extend_from_slice(self.row(row));
                ids.push(id.clone());
            }
        }
        self.rows = ids
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, id)| (id, i))
            .collect();
        self.data = data;
        self.ids = ids;
        self.dead.clear();
        self.graph = None;
        self.epoch += 1;
    }

    /// The `k` nearest papers to `query` (a unit vector), most similar first, skipping
    /// `exclude` (the paper itself, for "similar papers").
    pub fn nearest(&self, query: &[f32], k: usize, exclude: Option<&ArxivId>) -> Vec<Neighbour> {
        if query.len() != self.dim || k == 0 || self.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(f32, usize)> = Vec::new();
        let first_outside = match &self.graph {
            Some(graph) => {
                let mut search = Search::default();
                let wanted = k + 1 + self.dead.len().min(k);
                for item in graph
                    .map
                    .search(&Unit(query.to_vec()), &mut search)
                    .take(wanted)
                {
                    let row = *item.value;
                    scored.push((1.0 - item.distance, row));
                }
                graph.covered
            }
            None => 0,
        };
        for row in first_outside..self.ids.len() {
            scored.push((dot(query, self.row(row)), row));
        }
        scored.retain(|(_, row)| {
            !self.dead.contains(row) && exclude.is_none_or(|ex| &self.ids[*row] != ex)
        });
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(k);
        scored
            .into_iter()
            .map(|(similarity, row)| Neighbour {
                id: self.ids[row].clone(),
                similarity,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> ArxivId {
        ArxivId::parse(&format!("2401.{n:05}")).unwrap()
    }

    /// Deterministic pseudo-random unit vectors.
    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let norm = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|c| *c /= norm);
        v
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
        index.insert((0..100).map(|n| (id(n), unit(n as u64, 16))));
        let hits = index.nearest(&unit(7, 16), 3, None);
        assert_eq!(hits[0].id, id(7));
        assert!((hits[0].similarity - 1.0).abs() < 1e-5);
        let hits = index.nearest(&unit(7, 16), 3, Some(&id(7)));
        assert!(hits.iter().all(|h| h.id != id(7)));
        assert_eq!(hits.len(), 3);
        assert!(!index.is_approximate());
    }

    #[test]
    fn replacing_and_removing_vectors_is_reflected() {
        let mut index = VectorIndex::new(1000);
        index.insert((0..10).map(|n| (id(n), unit(n as u64, 8))));
        index.insert([(id(3), unit(99, 8))]);
        assert_eq!(index.len(), 10);
        assert_eq!(index.nearest(&unit(99, 8), 1, None)[0].id, id(3));
        index.remove(&id(3));
        assert!(
            index
                .nearest(&unit(99, 8), 10, None)
                .iter()
                .all(|h| h.id != id(3))
        );
        assert_eq!(
            index.insert([(id(50), vec![1.0; 3])]),
            1,
            "wrong dimension refused"
        );
    }

    #[test]
    fn the_graph_agrees_with_exact_search_on_most_neighbours() {
        let vectors: Vec<_> = (0..3000).map(|n| (id(n), unit(n as u64, 32))).collect();
        let mut exact = VectorIndex::new(usize::MAX);
        exact.insert(vectors.clone());
        let mut approx = VectorIndex::new(1000);
        approx.insert(vectors);
        assert!(approx.is_approximate());
        let mut agree = 0;
        for q in 0..50 {
            let query = unit(10_000 + q, 32);
            let truth: HashSet<_> = exact
                .nearest(&query, 10, None)
                .into_iter()
                .map(|h| h.id)
                .collect();
            agree += approx
                .nearest(&query, 10, None)
                .into_iter()
                .filter(|h| truth.contains(&h.id))
                .count();
        }
        let recall = agree as f32 / 500.0;
        assert!(recall > 0.9, "recall@10 of the graph: {recall}");
    }

    #[test]
    fn a_graph_built_off_the_index_covers_its_snapshot_and_later_rows_are_scanned() {
        let mut index = VectorIndex::new(500);
        index.insert_rows((0..600).map(|n| (id(n), unit(n as u64, 16))));
        assert!(!index.is_approximate(), "no graph until one is built");
        let build = index.plan_graph().unwrap();
        assert!(index.plan_graph().is_none(), "one build at a time");
        // Meanwhile: a new paper and a replaced one.
        index.insert_rows([(id(9999), unit(424_242, 16)), (id(5), unit(777, 16))]);
        index.install_graph(build.run());
        assert!(index.is_approximate());
        assert_eq!(index.nearest(&unit(424_242, 16), 1, None)[0].id, id(9999));
        assert_eq!(index.nearest(&unit(777, 16), 1, None)[0].id, id(5));
        let stale = index.nearest(&unit(5, 16), 3, None);
        assert!(
            stale.iter().all(|h| h.similarity < 0.999),
            "the old vector of 5 is gone"
        );
    }

    #[test]
    fn a_graph_from_before_a_renumbering_is_not_installed() {
        let mut index = VectorIndex::new(100);
        index.insert((0..200).map(|n| (id(n), unit(n as u64, 8))));
        // Replace enough rows that the next plan compacts (renumbers) the index.
        index.insert_rows((0..50).map(|n| (id(n), unit(1000 + n as u64, 8))));
        let old = {
            let mut copy = VectorIndex::new(100);
            copy.insert_rows((0..200).map(|n| (id(n), unit(n as u64, 8))));
            copy.plan_graph().unwrap()
        };
        let fresh = index.plan_graph().unwrap();
        index.install_graph(old.run());
        assert!(!index.is_approximate(), "a foreign snapshot is refused");
        index.install_graph(fresh.run());
        assert!(index.is_approximate());
        assert_eq!(index.nearest(&unit(1003, 8), 1, None)[0].id, id(3));
    }

    #[test]
    fn vectors_added_after_the_graph_are_found_exactly() {
        let mut index = VectorIndex::new(500);
        index.insert((0..600).map(|n| (id(n), unit(n as u64, 16))));
        assert!(index.is_approximate());
        index.insert([(id(9999), unit(424_242, 16))]);
        assert_eq!(index.nearest(&unit(424_242, 16), 1, None)[0].id, id(9999));
    }
}
