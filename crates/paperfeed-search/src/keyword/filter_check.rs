//! Which of a set of papers pass a query's filters: semantic search ranks by meaning, then
//! keeps only the papers the filters (author, category, dates) allow.

use paperfeed_core::ArxivId;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermSetQuery};
use tantivy::schema::Value;
use tantivy::{TantivyDocument, Term};

use super::{KeywordIndex, KeywordQuery, SearchError};

impl KeywordIndex {
    /// For each id, whether that paper passes `q`'s filters (its text is ignored). Papers not
    /// in the index do not pass.
    pub fn passes_filters(
        &self,
        q: &KeywordQuery,
        ids: &[ArxivId],
    ) -> Result<Vec<bool>, SearchError> {
        let filters = self.filters(q);
        if filters.is_empty() {
            return Ok(vec![true; ids.len()]);
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let id_field = self.fields.id;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(TermSetQuery::new(
                ids.iter()
                    .map(|id| Term::from_field_text(id_field, id.as_str())),
            )),
        )];
        clauses.extend(filters.into_iter().map(|f| (Occur::Must, f)));
        let searcher = self.reader.searcher();
        let docs = searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(ids.len()).order_by_score(),
            )
            .map_err(SearchError::index("searched"))?;
        let mut passing = std::collections::HashSet::new();
        for (_, address) in docs {
            let doc: TantivyDocument = searcher.doc(address).map_err(SearchError::index("read"))?;
            if let Some(id) = doc
                .get_first(id_field)
                .and_then(|v| v.as_str().map(str::to_owned))
            {
                passing.insert(id);
            }
        }
        Ok(ids.iter().map(|id| passing.contains(id.as_str())).collect())
    }
}
