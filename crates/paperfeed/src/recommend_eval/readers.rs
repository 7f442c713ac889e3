//! Simulated readers from the real data: what each one gave as signals before a day, and what
//! they went on to pick after it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

/// Share of a reader's papers (by time) that are their signals; the rest is the future.
pub const SIGNAL_SHARE: f64 = 0.7;
/// A submitter becomes a reader with at least this many submissions (the number).
pub const MIN_SUBMISSIONS: usize = 15;
/// A keyword cluster becomes a reader with at least this many papers.
pub const MIN_CLUSTER_PAPERS: usize = 30;

/// One paper as the simulation sees it.
pub struct SimPaper {
    pub date: NaiveDate,
    pub submitter: Option<String>,
    pub keywords: Vec<String>,
}

/// A simulated reader: indices into the corpus.
pub struct Reader {
    pub name: String,
    /// The last day of their signals; candidates are the papers featured after it.
    pub cut: NaiveDate,
    pub positives: Vec<usize>,
    pub future: Vec<usize>,
}

/// Splits a reader's papers by time: the first [`SIGNAL_SHARE`] (and every paper of the same
/// day as the last of those) are signals, the later ones the future. `None` when no future is
/// left.
fn split(name: String, papers: &[SimPaper], mut items: Vec<usize>) -> Option<Reader> {
    items.sort_by_key(|&i| (papers[i].date, i));
    items.dedup();
    let last_signal = ((items.len() as f64 * SIGNAL_SHARE).ceil() as usize).clamp(1, items.len());
    let cut = papers[items[last_signal - 1]].date;
    let (positives, future): (Vec<usize>, Vec<usize>) =
        items.into_iter().partition(|&i| papers[i].date <= cut);
    (!future.is_empty()).then_some(Reader {
        name,
        cut,
        positives,
        future,
    })
}

/// Each Hugging Face submitter with at least [`MIN_SUBMISSIONS`] papers (each paper counted
/// for the submitter of its first featured day).
pub fn submitters(papers: &[SimPaper]) -> Vec<Reader> {
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in papers.iter().enumerate() {
        if let Some(s) = &p.submitter {
            by.entry(s).or_default().push(i);
        }
    }
    by.into_iter()
        .filter(|(_, items)| items.len() >= MIN_SUBMISSIONS)
        .filter_map(|(name, items)| split(format!("submitter {name}"), papers, items))
        .collect()
}

/// A keyword's key: lowercased, spaces collapsed, a plural last word made singular.
fn key(keyword: &str) -> String {
    let mut words: Vec<String> = keyword.split_whitespace().map(str::to_lowercase).collect();
    if let Some(last) = words.last_mut()
        && last.len() > 3
        && last.ends_with('s')
        && !last.ends_with("ss")
    {
        last.pop();
    }
    words.join(" ")
}

/// "Large Language Models (LLMs)" → ("large language model", Some("llm")).
fn parts(keyword: &str) -> (String, Option<String>) {
    let trimmed = keyword.trim();
    if let Some(open) = trimmed.rfind('(')
        && trimmed.ends_with(')')
        && open > 0
    {
        let long = &trimmed[..open];
        let short = &trimmed[open + 1..trimmed.len() - 1];
        if !long.trim().is_empty() && !short.trim().is_empty() && !short.contains(['(', ')']) {
            return (key(long), Some(key(short)));
        }
    }
    (key(trimmed), None)
}

/// Readers from the papers' AI keywords: a reader per cluster of keywords with at least
/// [`MIN_CLUSTER_PAPERS`] papers. A cluster is the keywords that differ only in case or a final
/// plural, joined with their acronym where the data spells one out ("Large Language Models
/// (LLMs)" joins "LLMs"), when that acronym stands for one long form at least 80% of the time
/// ("TTS" is test-time scaling and text-to-speech: not joined). Named after its most frequent
/// member.
pub fn keyword_clusters(papers: &[SimPaper]) -> Vec<Reader> {
    let mut count: HashMap<String, usize> = HashMap::new();
    let mut expansions: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for p in papers {
        for k in &p.keywords {
            let (long, short) = parts(k);
            if let Some(short) = short {
                *expansions
                    .entry(short)
                    .or_default()
                    .entry(long.clone())
                    .or_default() += 1;
            }
            *count.entry(long).or_default() += 1;
        }
    }
    let mut parent: HashMap<String, String> = HashMap::new();
    fn root(parent: &HashMap<String, String>, mut k: String) -> String {
        while let Some(p) = parent.get(&k) {
            if p == &k {
                break;
            }
            k = p.clone();
        }
        k
    }
    let mut acronyms: Vec<_> = expansions.into_iter().collect();
    acronyms.sort_by(|a, b| a.0.cmp(&b.0));
    for (short, longs) in acronyms {
        let total: usize = longs.values().sum();
        let Some((long, n)) = longs
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        else {
            continue;
        };
        if n >= 2 && n * 5 >= total * 4 {
            let (a, b) = (root(&parent, short), root(&parent, long));
            if a != b {
                parent.insert(a, b);
            }
        }
    }
    let mut members: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for k in count.keys() {
        members.entry(root(&parent, k.clone())).or_default().push(k);
    }
    let name: HashMap<String, String> = members
        .iter()
        .map(|(r, ms)| {
            let best = ms
                .iter()
                .max_by(|a, b| count[**a].cmp(&count[**b]).then(b.cmp(a)))
                .map_or_else(|| r.clone(), |m| (*m).clone());
            (r.clone(), best)
        })
        .collect();
    let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in papers.iter().enumerate() {
        for k in &p.keywords {
            let cluster = &name[&root(&parent, parts(k).0)];
            by.entry(cluster.clone()).or_default().push(i);
        }
    }
    by.into_iter()
        .map(|(n, mut items)| {
            items.sort_unstable();
            items.dedup();
            (n, items)
        })
        .filter(|(_, items)| items.len() >= MIN_CLUSTER_PAPERS)
        .filter_map(|(n, items)| split(format!("keyword {n}"), papers, items))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(day: u32, submitter: Option<&str>, keywords: &[&str]) -> SimPaper {
        SimPaper {
            date: NaiveDate::from_ymd_opt(2025, 1, day).unwrap_or_default(),
            submitter: submitter.map(str::to_owned),
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    #[test]
    fn a_submitter_s_earlier_papers_are_signals_and_later_ones_the_future() {
        let mut papers: Vec<SimPaper> = (1..=20).map(|d| paper(d, Some("ana"), &[])).collect();
        papers.push(paper(3, Some("bo"), &[]));
        let readers = submitters(&papers);
        assert_eq!(readers.len(), 1, "bo has one submission");
        let ana = &readers[0];
        assert_eq!(ana.positives.len(), 14);
        assert_eq!(ana.future.len(), 6);
        assert!(ana.positives.iter().all(|&i| papers[i].date <= ana.cut));
        assert!(ana.future.iter().all(|&i| papers[i].date > ana.cut));
    }

    #[test]
    fn keywords_join_their_spelled_out_acronym_and_plurals_but_not_an_ambiguous_one() {
        let mut papers = Vec::new();
        for d in 1..=12 {
            papers.push(paper(d, None, &["Large Language Models (LLMs)"]));
            papers.push(paper(d, None, &["LLMs"]));
            papers.push(paper(d, None, &["large language model"]));
            papers.push(paper(d, None, &["Test-Time Scaling (TTS)", "TTS"]));
            papers.push(paper(d, None, &["text-to-speech (TTS)"]));
        }
        let readers = keyword_clusters(&papers);
        let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["keyword large language model"]);
        assert_eq!(readers[0].positives.len() + readers[0].future.len(), 36);
    }
}
