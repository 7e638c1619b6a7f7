//! Reciprocal rank fusion (Cormack, Clarke & Büttcher, 2009): each retriever contributes
//! `weight / (k + rank)` for every chunk it ranked, so lists whose scores are on different
//! scales (BM25, cosine) combine without calibration.

use std::collections::HashMap;

use rampart_core::ScoredChunk;
use serde::{Deserialize, Serialize};

/// How lexical and vector results combine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FusionWeights {
    pub lexical: f32,
    pub vector: f32,
    /// The rank constant: larger values flatten the advantage of the first ranks.
    pub k: f32,
}

impl Default for FusionWeights {
    fn default() -> Self {
        FusionWeights { lexical: 1.0, vector: 1.0, k: 60.0 }
    }
}

impl FusionWeights {
    pub fn validate(&self) -> Result<(), String> {
        let finite = |value: f32| value.is_finite() && value >= 0.0;
        if !finite(self.lexical) || !finite(self.vector) {
            return Err("fusion weights must be finite and not negative".into());
        }
        if self.lexical == 0.0 && self.vector == 0.0 {
            return Err("at least one fusion weight must be above zero".into());
        }
        if !self.k.is_finite() || self.k < 1.0 {
            return Err("the fusion rank constant `k` must be at least 1".into());
        }
        Ok(())
    }
}

/// One fused result with where each retriever ranked it (1-based) and its raw score there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FusedHit {
    pub chunk_id: String,
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexical: Option<RankedScore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<RankedScore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankedScore {
    pub rank: usize,
    pub score: f32,
}

fn contribute<'a>(
    fused: &mut HashMap<&'a str, FusedHit>,
    list: &'a [ScoredChunk],
    weight: f32,
    k: f32,
    is_lexical: bool,
) {
    if weight == 0.0 {
        return;
    }
    for (position, hit) in list.iter().enumerate() {
        let rank = position + 1;
        let entry = fused.entry(hit.chunk_id.as_str()).or_insert_with(|| FusedHit {
            chunk_id: hit.chunk_id.clone(),
            score: 0.0,
            lexical: None,
            vector: None,
        });
        entry.score += weight / (k + rank as f32);
        let ranked = Some(RankedScore { rank, score: hit.score });
        if is_lexical {
            entry.lexical = ranked;
        } else {
            entry.vector = ranked;
        }
    }
}

/// Fuses the two lists, best first, at most `limit`. Ties keep the lexical list's order,
/// then chunk id, so results are deterministic.
pub fn fuse(lexical: &[ScoredChunk], vector: &[ScoredChunk], weights: &FusionWeights, limit: usize) -> Vec<FusedHit> {
    let mut fused: HashMap<&str, FusedHit> = HashMap::new();
    contribute(&mut fused, lexical, weights.lexical, weights.k, true);
    contribute(&mut fused, vector, weights.vector, weights.k, false);
    let mut hits: Vec<FusedHit> = fused.into_values().collect();
    hits.sort_by(|left, right| {
        right
            .score
            .total_cmp(&left.score)
            .then_with(|| rank_or_last(left.lexical).cmp(&rank_or_last(right.lexical)))
            .then_with(|| left.chunk_id.cmp(&right.chunk_id))
    });
    hits.truncate(limit);
    hits
}

fn rank_or_last(ranked: Option<RankedScore>) -> usize {
    ranked.map_or(usize::MAX, |ranked| ranked.rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&str]) -> Vec<ScoredChunk> {
        ids.iter()
            .enumerate()
            .map(|(position, id)| ScoredChunk { chunk_id: (*id).into(), score: 10.0 - position as f32 })
            .collect()
    }

    #[test]
    fn a_chunk_both_retrievers_rank_beats_one_only_one_ranks_first() {
        let fused = fuse(&list(&["a", "b", "c"]), &list(&["d", "b", "e"]), &FusionWeights::default(), 10);
        assert_eq!(fused[0].chunk_id, "b");
        assert_eq!(fused[0].lexical.map(|r| r.rank), Some(2));
        assert_eq!(fused[0].vector.map(|r| r.rank), Some(2));
        assert!((fused[0].score - 2.0 / 62.0).abs() < 1e-6);
        assert_eq!(fused.len(), 5);
    }

    #[test]
    fn weights_tilt_the_order_and_zero_drops_a_list() {
        let lexical_heavy = FusionWeights { lexical: 3.0, vector: 1.0, k: 60.0 };
        let fused = fuse(&list(&["a"]), &list(&["d"]), &lexical_heavy, 10);
        assert_eq!(fused[0].chunk_id, "a");
        let vector_only = FusionWeights { lexical: 0.0, vector: 1.0, k: 60.0 };
        let fused = fuse(&list(&["a"]), &list(&["d"]), &vector_only, 10);
        assert_eq!(fused.iter().map(|hit| hit.chunk_id.as_str()).collect::<Vec<_>>(), ["d"]);
    }

    #[test]
    fn limit_and_validation() {
        assert_eq!(fuse(&list(&["a", "b", "c"]), &[], &FusionWeights::default(), 2).len(), 2);
        assert!(FusionWeights { lexical: 0.0, vector: 0.0, k: 60.0 }.validate().is_err());
        assert!(FusionWeights { lexical: f32::NAN, vector: 1.0, k: 60.0 }.validate().is_err());
        assert!(FusionWeights { lexical: 1.0, vector: 1.0, k: 0.5 }.validate().is_err());
        assert!(FusionWeights::default().validate().is_ok());
    }
}
