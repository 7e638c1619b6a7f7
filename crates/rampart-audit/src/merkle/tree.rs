//! Every node of one tree hashed once, so that proofs for all its leaves (an export) cost
//! O(log n) each instead of O(n).

use std::collections::HashMap;

use super::{node_hash, split_point};
use crate::hash::Hash;

/// The RFC 9162 tree over `leaves` with each interior node's hash kept.
pub struct ProofTree<'leaves> {
    leaves: &'leaves [Hash],
    /// (first leaf, leaf count) → hash, for every interior node.
    nodes: HashMap<(u64, u64), Hash>,
}

impl<'leaves> ProofTree<'leaves> {
    pub fn new(leaves: &'leaves [Hash]) -> Self {
        let mut tree = ProofTree { leaves, nodes: HashMap::with_capacity(leaves.len()) };
        if !leaves.is_empty() {
            tree.build(0, leaves.len() as u64);
        }
        tree
    }

    fn build(&mut self, start: u64, count: u64) -> Hash {
        if count == 1 {
            return self.leaves[start as usize];
        }
        let left = split_point(count);
        let hash = node_hash(&self.build(start, left), &self.build(start + left, count - left));
        self.nodes.insert((start, count), hash);
        hash
    }

    fn hash(&self, start: u64, count: u64) -> Hash {
        if count == 1 {
            self.leaves[start as usize]
        } else {
            self.nodes.get(&(start, count)).copied().unwrap_or_default()
        }
    }

    /// The audit path of leaf `index` in the whole tree (RFC 9162 §2.1.3.1), the same as
    /// [`super::inclusion_proof`] gives; `None` past the last leaf.
    pub fn inclusion_proof(&self, index: u64) -> Option<Vec<Hash>> {
        let size = self.leaves.len() as u64;
        if index >= size {
            return None;
        }
        let mut path = Vec::new();
        self.path(index, 0, size, &mut path);
        Some(path)
    }

    fn path(&self, index: u64, start: u64, count: u64, path: &mut Vec<Hash>) {
        if count <= 1 {
            return;
        }
        let left = split_point(count);
        if index < left {
            self.path(index, start, left, path);
            path.push(self.hash(start + left, count - left));
        } else {
            self.path(index - left, start + left, count - left, path);
            path.push(self.hash(start, left));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{inclusion_proof, leaf_hash};

    #[test]
    fn paths_equal_the_reference_algorithm_for_every_leaf_of_every_small_tree() {
        for size in 1..=40u64 {
            let leaves: Vec<Hash> = (0..size).map(|index| leaf_hash(&index.to_be_bytes())).collect();
            let tree = ProofTree::new(&leaves);
            for index in 0..size {
                assert_eq!(tree.inclusion_proof(index), Some(inclusion_proof(&leaves, index, size).unwrap()));
            }
            assert_eq!(tree.inclusion_proof(size), None);
        }
        assert_eq!(ProofTree::new(&[]).inclusion_proof(0), None);
    }
}
