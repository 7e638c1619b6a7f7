//! RFC 9162 §2.1 Merkle Tree Hash over record leaf hashes, an incremental frontier, and
//! inclusion and consistency proofs.
//!
//! - leaf: `SHA-256(0x00 ‖ data)`; interior node: `SHA-256(0x01 ‖ left ‖ right)`;
//! - the empty tree: `SHA-256("")`;
//! - `MTH(D[n])` for n > 1 is `node(MTH(D[0:k]), MTH(D[k:n]))` with k the largest power of two
//!   below n, so a tree's left subtrees are perfect and the tree is the one Certificate
//!   Transparency builds.
//!
//! Functions here take leaf hashes (`[u8; 32]`), not leaf data: the log hashes each record text
//! once and keeps the result.

mod proof;
#[cfg(test)]
mod tests;
mod tree;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AuditError;
use crate::hash::{Hash, sha256};

pub use proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
pub use tree::ProofTree;

/// `SHA-256("")`, the root of the empty tree.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// RFC 9162 leaf hash: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// RFC 9162 interior node hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The Merkle Tree Hash of `leaves` (leaf hashes), in O(n) time and O(log n) space.
pub fn root(leaves: &[Hash]) -> Hash {
    let mut frontier = MerkleFrontier::new();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

/// The roots of the perfect subtrees that make up a tree of `size` leaves, left to right (one
/// per set bit of `size`, largest first): all a log needs to keep to append and to compute its
/// root in O(log n). This is Trillian's "compact range" of `[0, size)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleFrontier {
    size: u64,
    subtree_roots: Vec<Hash>,
}

impl MerkleFrontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        MerkleFrontier::default()
    }

    /// Rebuilds a frontier from its size and subtree roots (largest subtree first).
    pub fn from_parts(size: u64, subtree_roots: Vec<Hash>) -> Result<Self, AuditError> {
        if size > 1 << 62 {
            return Err(AuditError::InvalidFrontier { reason: "size beyond 2^62 leaves" });
        }
        if subtree_roots.len() != size.count_ones() as usize {
            return Err(AuditError::InvalidFrontier {
                reason: "need exactly one subtree root per set bit of the size",
            });
        }
        Ok(MerkleFrontier { size, subtree_roots })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree roots, largest (leftmost) first.
    pub fn subtree_roots(&self) -> &[Hash] {
        &self.subtree_roots
    }

    /// Appends one leaf hash. Amortised one node hash per leaf.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut size = self.size;
        // Each trailing one bit of the old size is a perfect subtree of the same height as
        // `carry`: merge them, exactly like incrementing a binary counter.
        while size & 1 == 1 {
            if let Some(left) = self.subtree_roots.pop() {
                carry = node_hash(&left, &carry);
            }
            size >>= 1;
        }
        self.subtree_roots.push(carry);
        self.size += 1;
    }

    /// The Merkle Tree Hash of the leaves pushed so far, in O(log n).
    pub fn root(&self) -> Hash {
        let mut roots = self.subtree_roots.iter().rev();
        let Some(last) = roots.next() else {
            return EMPTY_ROOT;
        };
        roots.fold(*last, |right, left| node_hash(left, &right))
    }

    /// `size` as 8 big-endian bytes, then the subtree roots, 32 bytes each.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.subtree_roots.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for hash in &self.subtree_roots {
            out.extend_from_slice(hash);
        }
        out
    }

    /// Reads [`MerkleFrontier::to_bytes`] back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        let (size, rest) = bytes.split_first_chunk::<8>().ok_or(AuditError::InvalidFrontier { reason: "too short" })?;
        let size = u64::from_be_bytes(*size);
        let (chunks, remainder) = rest.as_chunks::<32>();
        if !remainder.is_empty() {
            return Err(AuditError::InvalidFrontier { reason: "length is not 8 + 32·k bytes" });
        }
        MerkleFrontier::from_parts(size, chunks.to_vec())
    }
}

/// JSON form: `{"size": n, "subtree_roots": ["hex", …]}`.
#[derive(Serialize, Deserialize)]
struct FrontierJson {
    size: u64,
    #[serde(with = "crate::hash::hex32_list")]
    subtree_roots: Vec<Hash>,
}

impl Serialize for MerkleFrontier {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FrontierJson { size: self.size, subtree_roots: self.subtree_roots.clone() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MerkleFrontier {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = FrontierJson::deserialize(deserializer)?;
        MerkleFrontier::from_parts(json.size, json.subtree_roots).map_err(serde::de::Error::custom)
    }
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}
