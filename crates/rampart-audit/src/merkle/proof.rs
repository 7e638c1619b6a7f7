//! RFC 9162 §2.1.3 inclusion proofs and §2.1.4 consistency proofs: generation from the leaf
//! hashes, and verification with the RFC's bit-walking algorithms.

use super::{node_hash, root, split_point};
use crate::AuditError;
use crate::hash::Hash;

/// The audit path of leaf `index` (0-based) in the tree of the first `tree_size` leaves,
/// deepest sibling first (RFC 9162 §2.1.3.1). O(tree_size) hashing.
pub fn inclusion_proof(leaves: &[Hash], index: u64, tree_size: u64) -> Result<Vec<Hash>, AuditError> {
    let tree = first_leaves(leaves, tree_size)?;
    if index >= tree_size {
        return Err(AuditError::LeafIndexOutOfRange { index, tree_size });
    }
    let mut siblings = Vec::with_capacity(64);
    let (mut low, mut high) = (0u64, tree_size);
    while high - low > 1 {
        let middle = low + split_point(high - low);
        if index < middle {
            siblings.push(root(range(tree, middle, high)));
            high = middle;
        } else {
            siblings.push(root(range(tree, low, middle)));
            low = middle;
        }
    }
    siblings.reverse();
    Ok(siblings)
}

/// Checks an audit path (RFC 9162 §2.1.3.2): that `leaf_hash` is leaf `index` of the tree of
/// `tree_size` leaves whose root is `root_hash`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root_hash: &Hash,
) -> Result<(), AuditError> {
    let fail = |reason| Err(AuditError::ProofMismatch { proof: "inclusion proof", reason });
    if index >= tree_size {
        return fail("leaf index is not below the tree size");
    }
    let (mut f, mut s) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s == 0 {
            return fail("audit path is longer than the tree is deep");
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return fail("audit path is shorter than the tree is deep");
    }
    if r != *root_hash {
        return fail("audit path leads to another root");
    }
    Ok(())
}

/// The proof that the tree of the first `old_size` leaves is a prefix of the tree of the first
/// `new_size` leaves (RFC 9162 §2.1.4.1). Empty when `old_size` is 0 or equals `new_size`.
pub fn consistency_proof(leaves: &[Hash], old_size: u64, new_size: u64) -> Result<Vec<Hash>, AuditError> {
    let tree = first_leaves(leaves, new_size)?;
    if old_size > new_size {
        return Err(AuditError::ConsistencySizes { old_size, new_size });
    }
    let mut proof = Vec::with_capacity(64);
    if old_size > 0 {
        subproof(tree, old_size, true, &mut proof);
    }
    Ok(proof)
}

/// RFC 9162's SUBPROOF(m, D[n], b) with `leaves` = D[n].
fn subproof(leaves: &[Hash], m: u64, whole_old_tree: bool, out: &mut Vec<Hash>) {
    let n = leaves.len() as u64;
    if m == n {
        if !whole_old_tree {
            out.push(root(leaves));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(range(leaves, 0, k), m, whole_old_tree, out);
        out.push(root(range(leaves, k, n)));
    } else {
        subproof(range(leaves, k, n), m - k, false, out);
        out.push(root(range(leaves, 0, k)));
    }
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `old_size` leaves with root
/// `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), AuditError> {
    let fail = |reason| Err(AuditError::ProofMismatch { proof: "consistency proof", reason });
    if old_size > new_size {
        return fail("the old tree is larger than the new one");
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return fail("a proof between equal sizes must be empty");
        }
        return if old_root == new_root { Ok(()) } else { fail("equal sizes with different roots") };
    }
    if old_size == 0 {
        // Every tree extends the empty tree.
        return if proof.is_empty() { Ok(()) } else { fail("a proof from the empty tree must be empty") };
    }
    let Some((first, rest)) = proof.split_first() else {
        return fail("the proof is empty");
    };
    // When the old tree is a perfect subtree, its root is the proof's implicit first node.
    let (start, rest) = if old_size.is_power_of_two() { (old_root, proof) } else { (first, rest) };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if s == 0 {
            return fail("the proof is longer than the trees are deep");
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return fail("the proof is shorter than the trees are deep");
    }
    if fr != *old_root {
        return fail("the proof does not lead to the old root");
    }
    if sr != *new_root {
        return fail("the proof does not lead to the new root");
    }
    Ok(())
}

fn first_leaves(leaves: &[Hash], tree_size: u64) -> Result<&[Hash], AuditError> {
    let available = leaves.len() as u64;
    if tree_size > available {
        return Err(AuditError::TreeSizeOutOfRange { tree_size, available });
    }
    Ok(range(leaves, 0, tree_size))
}

/// `leaves[low..high]`; callers keep the bounds inside the slice.
fn range(leaves: &[Hash], low: u64, high: u64) -> &[Hash] {
    let (low, high) = (usize::try_from(low).unwrap_or(usize::MAX), usize::try_from(high).unwrap_or(usize::MAX));
    leaves.get(low..high).unwrap_or_default()
}
