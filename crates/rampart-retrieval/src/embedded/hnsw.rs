//! A hierarchical navigable small-world graph (Malkov & Yashunin, 2016) over unit vectors,
//! searched with a filter evaluated during the walk: nodes the caller may not see still
//! guide the walk but never enter the results, so filtering happens inside the search.
//!
//! Written here rather than taken from a crate because the filter, tombstones and the
//! exact-scan fallback (`VectorSet`) need to sit inside the walk, and the crates on offer
//! either filter after the walk or pull in a logger, mmap and a second RNG.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

/// Similarity of two unit vectors (their dot product), written with eight accumulators so
/// the compiler vectorises it.
pub fn dot(left: &[f32], right: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let chunks = left.len() / 8;
    for index in 0..chunks {
        let base = index * 8;
        for lane in 0..8 {
            sums[lane] += left[base + lane] * right[base + lane];
        }
    }
    let mut total: f32 = sums.iter().sum();
    for index in chunks * 8..left.len().min(right.len()) {
        total += left[index] * right[index];
    }
    total
}

/// A candidate during the walk, ordered by similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored {
    similarity: f32,
    node: u32,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.similarity.total_cmp(&other.similarity).then_with(|| other.node.cmp(&self.node))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Graph parameters; the defaults are those of hnswlib and FAISS for 384-dimension text
/// embeddings.
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
    /// Links per node on upper layers (layer 0 keeps twice as many).
    pub links: usize,
    pub ef_construction: usize,
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams { links: 16, ef_construction: 128, seed: 0x5eed_1dea }
    }
}

/// The graph. Vectors live in one flat array (`dimension` floats per node).
pub struct Hnsw {
    dimension: usize,
    params: HnswParams,
    level_factor: f64,
    vectors: Vec<f32>,
    /// `links[node][layer]`: neighbour ids.
    links: Vec<Vec<Vec<u32>>>,
    entry: Option<u32>,
    top_layer: usize,
    rng: fastrand::Rng,
}

impl Hnsw {
    pub fn new(dimension: usize, params: HnswParams) -> Self {
        Hnsw {
            dimension,
            params,
            level_factor: 1.0 / (params.links.max(2) as f64).ln(),
            vectors: Vec::new(),
            links: Vec::new(),
            entry: None,
            top_layer: 0,
            rng: fastrand::Rng::with_seed(params.seed),
        }
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn len(&self) -> usize {
        self.links.len()
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    pub fn vector(&self, node: u32) -> &[f32] {
        let start = node as usize * self.dimension;
        &self.vectors[start..start + self.dimension]
    }

    fn max_links(&self, layer: usize) -> usize {
        if layer == 0 { self.params.links * 2 } else { self.params.links }
    }

    fn random_layer(&mut self) -> usize {
        let uniform = self.rng.f64().max(f64::MIN_POSITIVE);
        ((-uniform.ln() * self.level_factor) as usize).min(16)
    }

    /// Adds a vector (of the graph's dimension) and returns its node id, which is its
    /// position in insertion order.
    pub fn insert(&mut self, vector: &[f32]) -> u32 {
        debug_assert_eq!(vector.len(), self.dimension);
        let node = self.links.len() as u32;
        let layer = self.random_layer();
        self.vectors.extend_from_slice(vector);
        self.links.push(vec![Vec::new(); layer + 1]);
        let Some(mut entry) = self.entry else {
            self.entry = Some(node);
            self.top_layer = layer;
            return node;
        };
        let query = self.vector(node).to_vec();
        for upper in (layer + 1..=self.top_layer).rev() {
            entry = self.greedy_closest(&query, entry, upper);
        }
        let mut entries = vec![entry];
        for current in (0..=layer.min(self.top_layer)).rev() {
            let found = self.search_layer(&query, &entries, self.params.ef_construction, current, &|_| true);
            let chosen = self.select_neighbours(&found, self.max_links(current));
            self.links[node as usize][current] = chosen.clone();
            for neighbour in chosen {
                self.link_back(neighbour, node, current);
            }
            entries = found.iter().map(|scored| scored.node).collect();
        }
        if layer > self.top_layer {
            self.top_layer = layer;
            self.entry = Some(node);
        }
        node
    }

    /// Adds `node` to `neighbour`'s links on `layer`, re-selecting them when over the cap.
    fn link_back(&mut self, neighbour: u32, node: u32, layer: usize) {
        let cap = self.max_links(layer);
        let existing = &self.links[neighbour as usize][layer];
        if existing.len() < cap {
            self.links[neighbour as usize][layer].push(node);
            return;
        }
        let base = self.vector(neighbour).to_vec();
        let mut candidates: Vec<Scored> = existing
            .iter()
            .chain(std::iter::once(&node))
            .map(|&other| Scored { similarity: dot(&base, self.vector(other)), node: other })
            .collect();
        candidates.sort_by(|left, right| right.cmp(left));
        self.links[neighbour as usize][layer] = self.select_neighbours(&candidates, cap);
    }

    /// The heuristic of the paper (algorithm 4): keep a candidate only if it is closer to the
    /// base than to every neighbour kept so far, which keeps links spread out; fill up with
    /// the closest pruned ones. `candidates` is sorted best first.
    fn select_neighbours(&self, candidates: &[Scored], cap: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(cap);
        let mut pruned: Vec<u32> = Vec::new();
        for candidate in candidates {
            if kept.len() >= cap {
                break;
            }
            let vector = self.vector(candidate.node);
            let diverse = kept.iter().all(|&other| dot(vector, self.vector(other)) < candidate.similarity);
            if diverse { kept.push(candidate.node) } else { pruned.push(candidate.node) }
        }
        for node in pruned {
            if kept.len() >= cap {
                break;
            }
            kept.push(node);
        }
        kept
    }

    fn greedy_closest(&self, query: &[f32], mut current: u32, layer: usize) -> u32 {
        let mut best = dot(query, self.vector(current));
        loop {
            let mut moved = false;
            for &neighbour in self.links[current as usize].get(layer).into_iter().flatten() {
                let similarity = dot(query, self.vector(neighbour));
                if similarity > best {
                    best = similarity;
                    current = neighbour;
                    moved = true;
                }
            }
            if !moved {
                return current;
            }
        }
    }

    /// Best-first walk of one layer. Every reached node may guide the walk; only those
    /// `admit` accepts enter the results. Returns up to `ef` results, best first.
    fn search_layer(
        &self,
        query: &[f32],
        entries: &[u32],
        ef: usize,
        layer: usize,
        admit: &dyn Fn(u32) -> bool,
    ) -> Vec<Scored> {
        let mut visited: HashSet<u32> = HashSet::with_capacity(ef * 8);
        let mut frontier: BinaryHeap<Scored> = BinaryHeap::new();
        // Min-heap of results by similarity (Reverse), so the worst is on top.
        let mut results: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::new();
        for &entry in entries {
            if visited.insert(entry) {
                let scored = Scored { similarity: dot(query, self.vector(entry)), node: entry };
                frontier.push(scored);
                if admit(entry) {
                    results.push(std::cmp::Reverse(scored));
                }
            }
        }
        while results.len() > ef {
            results.pop();
        }
        while let Some(candidate) = frontier.pop() {
            if results.len() >= ef && results.peek().is_some_and(|worst| candidate.similarity < worst.0.similarity) {
                break;
            }
            for &neighbour in self.links[candidate.node as usize].get(layer).into_iter().flatten() {
                if !visited.insert(neighbour) {
                    continue;
                }
                let similarity = dot(query, self.vector(neighbour));
                let full = results.len() >= ef;
                if full && results.peek().is_some_and(|worst| similarity <= worst.0.similarity) {
                    // Worse than every admitted result held: as in hnswlib, it neither
                    // enters the results nor guides the walk.
                    continue;
                }
                let scored = Scored { similarity, node: neighbour };
                frontier.push(scored);
                if admit(neighbour) {
                    results.push(std::cmp::Reverse(scored));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        let mut sorted: Vec<Scored> = results.into_iter().map(|reverse| reverse.0).collect();
        sorted.sort_by(|left, right| right.cmp(left));
        sorted
    }

    /// The `limit` most similar admitted nodes, best first, exploring `ef` candidates.
    pub fn search(&self, query: &[f32], limit: usize, ef: usize, admit: &dyn Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let Some(mut entry) = self.entry else {
            return Vec::new();
        };
        for layer in (1..=self.top_layer).rev() {
            entry = self.greedy_closest(query, entry, layer);
        }
        self.search_layer(query, &[entry], ef.max(limit), 0, admit)
            .into_iter()
            .take(limit)
            .map(|scored| (scored.node, scored.similarity))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_vectors(count: usize, dimension: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..count)
            .map(|_| {
                let raw: Vec<f32> = (0..dimension).map(|_| rng.f32() * 2.0 - 1.0).collect();
                let norm = dot(&raw, &raw).sqrt();
                raw.into_iter().map(|value| value / norm).collect()
            })
            .collect()
    }

    fn exact(vectors: &[Vec<f32>], query: &[f32], limit: usize, admit: &dyn Fn(u32) -> bool) -> Vec<u32> {
        let mut scored: Vec<(u32, f32)> = vectors
            .iter()
            .enumerate()
            .filter(|(node, _)| admit(*node as u32))
            .map(|(node, vector)| (node as u32, dot(query, vector)))
            .collect();
        scored.sort_by(|left, right| right.1.total_cmp(&left.1));
        scored.into_iter().take(limit).map(|(node, _)| node).collect()
    }

    fn recall(graph: &Hnsw, vectors: &[Vec<f32>], queries: &[Vec<f32>], admit: &dyn Fn(u32) -> bool) -> f64 {
        let mut hits = 0;
        let mut total = 0;
        for query in queries {
            let truth = exact(vectors, query, 10, admit);
            let found: HashSet<u32> = graph.search(query, 10, 64, admit).into_iter().map(|(node, _)| node).collect();
            for node in &truth {
                assert!(admit(*node));
            }
            for (node, _) in graph.search(query, 10, 64, admit) {
                assert!(admit(node), "a node the filter refuses came back");
            }
            hits += truth.iter().filter(|node| found.contains(node)).count();
            total += truth.len();
        }
        hits as f64 / total as f64
    }

    #[test]
    fn recall_at_ten_is_high_with_and_without_a_filter() {
        let vectors = unit_vectors(4_000, 32, 7);
        let mut graph = Hnsw::new(32, HnswParams::default());
        for vector in &vectors {
            graph.insert(vector);
        }
        assert_eq!(graph.len(), 4_000);
        let queries = unit_vectors(50, 32, 99);
        let unfiltered = recall(&graph, &vectors, &queries, &|_| true);
        assert!(unfiltered >= 0.95, "recall@10 without a filter: {unfiltered}");
        let half = recall(&graph, &vectors, &queries, &|node| node % 2 == 0);
        assert!(half >= 0.95, "recall@10 with half the nodes admitted: {half}");
    }

    #[test]
    fn an_empty_graph_and_a_filter_that_admits_nothing_return_nothing() {
        let graph = Hnsw::new(4, HnswParams::default());
        assert!(graph.search(&[1.0, 0.0, 0.0, 0.0], 5, 32, &|_| true).is_empty());
        let mut graph = Hnsw::new(4, HnswParams::default());
        graph.insert(&[1.0, 0.0, 0.0, 0.0]);
        graph.insert(&[0.0, 1.0, 0.0, 0.0]);
        assert!(graph.search(&[1.0, 0.0, 0.0, 0.0], 5, 32, &|_| false).is_empty());
        assert_eq!(graph.search(&[1.0, 0.0, 0.0, 0.0], 1, 32, &|_| true), vec![(0, 1.0)]);
    }

    #[test]
    fn dot_matches_the_plain_sum_for_odd_lengths() {
        let left: Vec<f32> = (0..19).map(|value| value as f32 * 0.1).collect();
        let right: Vec<f32> = (0..19).map(|value| 1.0 - value as f32 * 0.05).collect();
        let plain: f32 = left.iter().zip(&right).map(|(a, b)| a * b).sum();
        assert!((dot(&left, &right) - plain).abs() < 1e-4);
    }
}
