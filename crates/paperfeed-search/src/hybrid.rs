//! Reciprocal rank fusion: each ranked list gives a paper `1 / (k + rank)`, rank starting at 1;
//! the sums decide. It needs no score calibration between BM25 and cosine, which is why the
//! best hybrid engines default to it.

use std::collections::HashMap;

use paperfeed_core::ArxivId;

/// The constant from Cormack et al. (2009), used by most engines.
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists (best first) into one, best first; ties keep first-list order.
pub fn reciprocal_rank_fusion(lists: &[&[ArxivId]], k: f32) -> Vec<(ArxivId, f32)> {
    let mut scores: HashMap<&ArxivId, (f32, usize)> = HashMap::new();
    let mut order = 0usize;
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let entry = scores.entry(id).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += 1.0 / (k + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(ArxivId, f32, usize)> = scores
        .into_iter()
        .map(|(id, (score, seen))| (id.clone(), score, seen))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(id, score, _)| (id, score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<ArxivId> {
        names.iter().map(|n| ArxivId::parse(n).unwrap()).collect()
    }

    #[test]
    fn a_paper_ranked_well_by_both_lists_wins() {
        let keyword = ids(&["2401.00001", "2401.00002", "2401.00003"]);
        let semantic = ids(&["2401.00004", "2401.00002", "2401.00001"]);
        let fused = reciprocal_rank_fusion(&[&keyword, &semantic], RRF_K);
        let order: Vec<String> = fused.iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(order[..2], ["2401.00001", "2401.00002"]);
        assert_eq!(fused.len(), 4);
        let expected = 1.0 / 61.0 + 1.0 / 63.0;
        assert!((fused[0].1 - expected).abs() < 1e-6);
    }

    #[test]
    fn one_list_keeps_its_order_and_no_lists_give_nothing() {
        let keyword = ids(&["2401.00003", "2401.00001"]);
        let fused = reciprocal_rank_fusion(&[&keyword], RRF_K);
        assert_eq!(
            fused.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
            keyword
        );
        assert!(reciprocal_rank_fusion(&[], RRF_K).is_empty());
    }
}
