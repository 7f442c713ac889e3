//! Turning a parsed [`KeywordQuery`] into tantivy queries: the BM25 over its words and phrases,
//! the exact ids and title pinned first, and the filters (author, category, dates) that add
//! nothing to the score.

use std::collections::BTreeSet;
use std::ops::Bound;

use paperfeed_core::ArxivId;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TokenStream;

use super::query::{Piece, day_number, pieces};
use super::{KeywordIndex, KeywordQuery, SortOrder, schema};

/// Title matches count this many times an abstract or author match. Measured with
/// `scripts/eval-search` (5,185 papers stored without AI text, 1,000 queries a set): 3.0 gave
/// keyword MRR@10 0.571 on three AI keywords (K) and 0.972 on AI summaries (P); 1.5 gave 0.680
/// and 0.993; 1.0 gave 0.740 and 0.997. BM25's length norm already lifts a match in a short
/// title, and an exact title still ranks first through its own clause.
const TITLE_BOOST: f32 = 1.0;
/// Distinct terms kept per field from one query: a pasted abstract still searches well, and a
/// pasted book cannot build a query of a million clauses.
const MAX_TERMS_PER_FIELD: usize = 64;
/// Phrases kept from one query, for the same reason.
const MAX_PHRASES: usize = 16;

/// A [`KeywordQuery`] turned into tantivy queries.
pub(super) struct Plan {
    /// Filters, each a must-match clause that adds nothing to the score.
    filters: Vec<Box<dyn Query>>,
    /// BM25 over the words and phrases, filtered; `None` when the text has nothing to rank by.
    pub(super) ranked: Option<Box<dyn Query>>,
    /// Every paper on any page: the ranked query, or an exact id or title, filtered; for blank
    /// text, everything the filters let through. `None` when nothing can match.
    pub(super) matcher: Option<Box<dyn Query>>,
    /// Ids and the exact-title key from the text, whose papers are pinned first.
    pub(super) exact: Vec<Term>,
    /// The order actually used: relevance needs words to rank by, else it is newest first.
    pub(super) sort: SortOrder,
    /// The free words of the text (not its phrases or filters), joined by spaces: what the
    /// best matches are re-ranked by ([`super::coverage`]).
    pub(super) words: String,
}

impl Plan {
    /// Each exact id or title term as an optional clause (matching any of them will do).
    pub(super) fn exact_clauses(&self) -> Vec<(Occur, Box<dyn Query>)> {
        self.exact
            .iter()
            .map(|term| {
                let query: Box<dyn Query> =
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic));
                (Occur::Should, query)
            })
            .collect()
    }

    pub(super) fn filtered(&self, query: Box<dyn Query>) -> Box<dyn Query> {
        if self.filters.is_empty() {
            return query;
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(self.filters.len() + 1);
        clauses.push((Occur::Must, query));
        for filter in &self.filters {
            clauses.push((Occur::Must, filter.box_clone()));
        }
        Box::new(BooleanQuery::new(clauses))
    }
}

impl KeywordIndex {
    pub(super) fn plan(&self, q: &KeywordQuery) -> Plan {
        let filters = self.filters(q);
        let mut plan = Plan {
            filters,
            ranked: None,
            matcher: None,
            exact: Vec::new(),
            sort: q.sort,
            words: String::new(),
        };
        if q.text.trim().is_empty() {
            let everything: Box<dyn Query> = Box::new(AllQuery);
            plan.matcher = Some(plan.filtered(everything));
            if plan.sort == SortOrder::Relevance {
                plan.sort = SortOrder::Newest;
            }
            return plan;
        }

        let pieces = pieces(&q.text);
        plan.words = free_words(&pieces);
        let ids = arxiv_ids(&q.text, &pieces);
        plan.exact = ids
            .iter()
            .map(|id| schema::id_term(&self.fields, id.as_str()))
            .collect();
        if let Some(key) = schema::title_key(&q.text) {
            plan.exact
                .push(Term::from_field_text(self.fields.title_key, &key));
        }

        let ranked = self.ranked_text(&pieces, &ids);
        let mut any = plan.exact_clauses();
        if let Some(ranked) = &ranked {
            any.push((Occur::Should, ranked.box_clone()));
        }
        plan.matcher = match any.len() {
            0 => None,
            1 => any.pop().map(|(_, only)| plan.filtered(only)),
            _ => Some(plan.filtered(Box::new(BooleanQuery::new(any)))),
        };
        plan.ranked = ranked.map(|ranked| plan.filtered(ranked));
        if plan.ranked.is_none() && plan.sort == SortOrder::Relevance {
            plan.sort = SortOrder::Newest;
        }
        plan
    }

    /// BM25 over the free text: every word is optional (papers matching more of them, and
    /// rarer ones, rank higher), every phrase is required. Kept a flat union of term queries
    /// when there are no phrases, so tantivy can skip blocks that cannot reach the top (WAND).
    fn ranked_text(&self, pieces: &[Piece<'_>], ids: &[ArxivId]) -> Option<Box<dyn Query>> {
        let f = &self.fields;
        let scored = [
            (f.title, TITLE_BOOST),
            (f.abstract_text, 1.0),
            (f.authors, 1.0),
        ];
        let words = free_words(pieces);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in scored {
            let mut seen = BTreeSet::new();
            for (_, token) in self.analyze(field, &words) {
                if seen.len() >= MAX_TERMS_PER_FIELD {
                    break;
                }
                if seen.insert(token.clone()) {
                    let term = Term::from_field_text(field, &token);
                    clauses.push((Occur::Should, boosted(term_query(term), boost)));
                }
            }
        }
        for id in ids {
            let term = schema::id_term(f, id.as_str());
            clauses.push((Occur::Should, term_query(term)));
        }
        let phrases = pieces.iter().filter_map(|piece| match piece {
            Piece::Phrase(phrase) => Some(*phrase),
            Piece::Word(_) => None,
        });
        for phrase in phrases.take(MAX_PHRASES) {
            // A phrase of stop words only ("to be or not to be") says nothing the prose
            // analyzer keeps; requiring it would match nothing, so it is left out.
            if self.analyze(f.title, phrase).is_empty() {
                continue;
            }
            let alternatives: Vec<(Occur, Box<dyn Query>)> = scored
                .iter()
                .filter_map(|&(field, boost)| {
                    let query = self.phrase_query(field, phrase)?;
                    Some((Occur::Should, boosted(query, boost)))
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// The tokens of `text` as `field` indexes them, with their positions.
    pub(super) fn analyze(&self, field: Field, text: &str) -> Vec<(usize, String)> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(field) else {
            return Vec::new();
        };
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        while let Some(token) = stream.next() {
            tokens.push((token.position, token.text.clone()));
        }
        tokens
    }

    /// `text` as a phrase in `field`: a term query for one token, none for no token.
    fn phrase_query(&self, field: Field, text: &str) -> Option<Box<dyn Query>> {
        let mut tokens = self.analyze(field, text);
        tokens.truncate(MAX_TERMS_PER_FIELD);
        let first = tokens.first().map_or(0, |(position, _)| *position);
        let mut terms: Vec<(usize, Term)> = tokens
            .into_iter()
            .map(|(position, token)| (position - first, Term::from_field_text(field, &token)))
            .collect();
        match terms.len() {
            0 => None,
            1 => terms.pop().map(|(_, term)| term_query(term)),
            _ => Some(Box::new(PhraseQuery::new_with_offset(terms))),
        }
    }

    pub(super) fn filters(&self, q: &KeywordQuery) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        if let Some(author) = &q.author {
            // No words left (`author:"!!"`) means no author can match, not "any author".
            let query = self
                .phrase_query(f.authors, author)
                .unwrap_or_else(|| Box::new(EmptyQuery));
            filters.push(query);
        }
        if let Some(category) = &q.category {
            filters.push(self.category_filter(category));
        }
        if let Some((from, to)) = q.published {
            filters.push(day_range(f.published, from, to));
        }
        if let Some((from, to)) = q.featured {
            filters.push(day_range(f.featured, from, to));
        }
        filters
            .into_iter()
            .map(|filter| Box::new(ConstScoreQuery::new(filter, 0.0)) as Box<dyn Query>)
            .collect()
    }

    /// `cs.CL` exactly (any case); `cs.*` or `cs*` for the archive; `cs` for the archive or
    /// a category named just that (`hep-th`).
    fn category_filter(&self, category: &str) -> Box<dyn Query> {
        let field = self.fields.categories;
        let term = |text: &str| term_query(Term::from_field_text(field, text));
        let category = schema::category_term(category);
        if let Some(archive) = category
            .strip_suffix(".*")
            .or_else(|| category.strip_suffix('*'))
        {
            return term(&format!("{archive}.*"));
        }
        if category.contains('.') {
            return term(&category);
        }
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, term(&category)),
            (Occur::Should, term(&format!("{category}.*"))),
        ]))
    }
}

/// The words of the text outside phrases and filters, joined by spaces.
fn free_words(pieces: &[Piece<'_>]) -> String {
    let words: Vec<&str> = pieces
        .iter()
        .filter_map(|piece| match piece {
            Piece::Word(word) => Some(*word),
            Piece::Phrase(_) => None,
        })
        .collect();
    words.join(" ")
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        query
    } else {
        Box::new(BoostQuery::new(query, boost))
    }
}

fn day_range(field: Field, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Box<dyn Query> {
    if from > to {
        // Parsing refuses these; a query built by hand gets the empty answer it describes.
        return Box::new(EmptyQuery);
    }
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_i64(field, day_number(from))),
        Bound::Included(Term::from_field_i64(field, day_number(to))),
    ))
}

/// arXiv ids named in the text, in any accepted form: the whole text (`arXiv: 2403.06634`)
/// or any one word of it (`see 2403.06634v2`).
fn arxiv_ids(text: &str, pieces: &[Piece<'_>]) -> Vec<ArxivId> {
    let mut ids: Vec<ArxivId> = Vec::new();
    let candidates = std::iter::once(text.trim()).chain(pieces.iter().map(|piece| match piece {
        Piece::Word(word) | Piece::Phrase(word) => *word,
    }));
    for candidate in candidates {
        // Ids are short; parsing every word of a pasted abstract is cheap but pointless.
        if candidate.len() > 80 {
            continue;
        }
        if let Ok(id) = ArxivId::parse(candidate)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}
