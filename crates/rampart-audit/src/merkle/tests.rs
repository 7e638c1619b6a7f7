//! Certificate Transparency's reference vectors (transparency-dev/merkle `testonly`), then
//! every proof of every tree up to 64 leaves against a direct transcription of RFC 9162's
//! recursive definitions.

use super::*;

fn h(text: &str) -> Hash {
    crate::hash::hash_from_hex(text, "test vector").unwrap()
}

/// CT's eight leaf inputs.
fn ct_leaves() -> Vec<Hash> {
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .iter()
        .map(|data| leaf_hash(&hex::decode(data).unwrap()))
        .collect()
}

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn ct_roots_for_every_size() {
    let leaves = ct_leaves();
    assert_eq!(EMPTY_ROOT, h(CT_ROOTS[0]));
    let mut frontier = MerkleFrontier::new();
    assert_eq!(frontier.root(), EMPTY_ROOT);
    for size in 1..=8 {
        frontier.push(leaves[size - 1]);
        assert_eq!(root(&leaves[..size]), h(CT_ROOTS[size]), "size {size}");
        assert_eq!(frontier.root(), h(CT_ROOTS[size]), "frontier size {size}");
    }
}

#[test]
fn ct_compact_ranges() {
    // transparency-dev's CompactTrees: the frontier of sizes 3, 6 and 7.
    let leaves = ct_leaves();
    let frontier = |size: usize| {
        let mut f = MerkleFrontier::new();
        leaves[..size].iter().for_each(|leaf| f.push(*leaf));
        f
    };
    let n = |text| h(text);
    assert_eq!(
        frontier(3).subtree_roots(),
        [
            n("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
            n("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7")
        ]
    );
    assert_eq!(
        frontier(7).subtree_roots(),
        [
            n("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            n("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            n("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        ]
    );
}

#[test]
fn ct_inclusion_vectors() {
    let leaves = ct_leaves();
    let cases: &[(u64, u64, &[&str])] = &[
        (0, 1, &[]),
        (0, 2, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
        (1, 2, &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for &(index, size, expected) in cases {
        let expected: Vec<Hash> = expected.iter().map(|text| h(text)).collect();
        assert_eq!(inclusion_proof(&leaves, index, size).unwrap(), expected, "{index}:{size}");
        verify_inclusion(&leaves[index as usize], index, size, &expected, &h(CT_ROOTS[size as usize])).unwrap();
    }
}

#[test]
fn ct_consistency_vectors() {
    let leaves = ct_leaves();
    let cases: &[(u64, u64, &[&str])] = &[
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for &(old, new, expected) in cases {
        let expected: Vec<Hash> = expected.iter().map(|text| h(text)).collect();
        assert_eq!(consistency_proof(&leaves, old, new).unwrap(), expected, "{old}:{new}");
        verify_consistency(old, new, &expected, &h(CT_ROOTS[old as usize]), &h(CT_ROOTS[new as usize])).unwrap();
    }
}

// RFC 9162's definitions, transcribed as directly as possible.
fn ref_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&ref_root(&leaves[..k]), &ref_root(&leaves[k..]))
        }
    }
}

fn ref_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split_point(n as u64) as usize;
    let (mut path, sibling) = if m < k {
        (ref_path(m, &leaves[..k]), ref_root(&leaves[k..]))
    } else {
        (ref_path(m - k, &leaves[k..]), ref_root(&leaves[..k]))
    };
    path.push(sibling);
    path
}

fn ref_subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![ref_root(leaves)] };
    }
    let k = split_point(n as u64) as usize;
    let (mut proof, sibling) = if m <= k {
        (ref_subproof(m, &leaves[..k], b), ref_root(&leaves[k..]))
    } else {
        (ref_subproof(m - k, &leaves[k..], false), ref_root(&leaves[..k]))
    };
    proof.push(sibling);
    proof
}

fn numbered_leaves(count: usize) -> Vec<Hash> {
    (0..count).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
}

fn flipped(proof: &[Hash], which: usize, bit: u8) -> Vec<Hash> {
    let mut proof = proof.to_vec();
    proof[which][usize::from(bit) % 32] ^= 1 << (bit % 8);
    proof
}

#[test]
fn every_inclusion_proof_up_to_64_leaves() {
    let leaves = numbered_leaves(64);
    for size in 1..=64u64 {
        let tree = &leaves[..size as usize];
        let root_hash = root(tree);
        assert_eq!(root_hash, ref_root(tree));
        for index in 0..size {
            let leaf = &leaves[index as usize];
            let proof = inclusion_proof(&leaves, index, size).unwrap();
            assert_eq!(proof, ref_path(index as usize, tree), "{index}:{size}");
            verify_inclusion(leaf, index, size, &proof, &root_hash).unwrap();
            for which in 0..proof.len() {
                let bad = flipped(&proof, which, (index as u8).wrapping_mul(7).wrapping_add(which as u8));
                assert!(verify_inclusion(leaf, index, size, &bad, &root_hash).is_err(), "{index}:{size}");
            }
            let mut wrong_leaf = *leaf;
            wrong_leaf[0] ^= 0x80;
            assert!(verify_inclusion(&wrong_leaf, index, size, &proof, &root_hash).is_err());
            if size > 1 {
                let other = (index + 1) % size;
                assert!(verify_inclusion(leaf, other, size, &proof, &root_hash).is_err(), "{index}->{other}:{size}");
            }
            let mut longer = proof.clone();
            longer.push(root_hash);
            assert!(verify_inclusion(leaf, index, size, &longer, &root_hash).is_err());
            if !proof.is_empty() {
                assert!(verify_inclusion(leaf, index, size, &proof[..proof.len() - 1], &root_hash).is_err());
            }
        }
        assert!(matches!(inclusion_proof(&leaves, size, size), Err(AuditError::LeafIndexOutOfRange { .. })));
        assert!(verify_inclusion(&leaves[0], size, size, &[], &root_hash).is_err());
    }
    assert!(matches!(inclusion_proof(&leaves, 0, 65), Err(AuditError::TreeSizeOutOfRange { .. })));
}

#[test]
fn every_consistency_proof_up_to_64_leaves() {
    let leaves = numbered_leaves(64);
    let roots: Vec<Hash> = (0..=64).map(|size| root(&leaves[..size])).collect();
    for new in 0..=64u64 {
        for old in 0..=new {
            let proof = consistency_proof(&leaves, old, new).unwrap();
            let expected =
                if old == 0 { Vec::new() } else { ref_subproof(old as usize, &leaves[..new as usize], true) };
            assert_eq!(proof, expected, "{old}:{new}");
            let (old_root, new_root) = (&roots[old as usize], &roots[new as usize]);
            verify_consistency(old, new, &proof, old_root, new_root).unwrap();
            for which in 0..proof.len() {
                let bad = flipped(&proof, which, (old as u8).wrapping_mul(5).wrapping_add(which as u8));
                assert!(verify_consistency(old, new, &bad, old_root, new_root).is_err(), "{old}:{new}");
            }
            if old > 0 && old < new {
                let mut wrong = *old_root;
                wrong[31] ^= 1;
                assert!(verify_consistency(old, new, &proof, &wrong, new_root).is_err());
                let mut wrong = *new_root;
                wrong[0] ^= 1;
                assert!(verify_consistency(old, new, &proof, old_root, &wrong).is_err());
                assert!(verify_consistency(old, new, &[], old_root, new_root).is_err());
                assert!(verify_consistency(old - 1, new, &proof, &roots[old as usize - 1], new_root).is_err());
            }
        }
    }
    assert!(matches!(consistency_proof(&leaves, 5, 4), Err(AuditError::ConsistencySizes { .. })));
    assert!(verify_consistency(5, 4, &[], &roots[5], &roots[4]).is_err());
    assert!(verify_consistency(4, 4, &[], &roots[4], &roots[5]).is_err());
}

#[test]
fn frontier_round_trips_through_bytes_and_json() {
    let leaves = numbered_leaves(300);
    let mut frontier = MerkleFrontier::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let bytes = frontier.to_bytes();
        let restored = MerkleFrontier::from_bytes(&bytes).unwrap();
        assert_eq!(restored, frontier);
        let json = serde_json::to_string(&frontier).unwrap();
        assert_eq!(serde_json::from_str::<MerkleFrontier>(&json).unwrap(), frontier);
        assert_eq!(frontier.root(), ref_root(&leaves[..i]));
        frontier.push(*leaf);
    }
    assert!(MerkleFrontier::from_bytes(&[0; 7]).is_err());
    assert!(MerkleFrontier::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 1]).is_err());
    assert!(MerkleFrontier::from_bytes(&frontier.to_bytes()[..40]).is_err());
    assert!(serde_json::from_str::<MerkleFrontier>(r#"{"size":3,"subtree_roots":[]}"#).is_err());
}
