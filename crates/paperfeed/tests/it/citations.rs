//! A paper as citation managers import it, read back by real parsers (pinned in
//! target/tools/hf-venv by scripts/ensure-test-deps): bibtexparser for `.bib`, rispy for `.ris`,
//! citeproc-py rendering `.csl.json`; and the Highwire `citation_*` tags on the paper page.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use paperfeed_store::Store;
use serde_json::Value;

use crate::api::store_of;
use crate::harness::{Server, workspace_root};

/// Parses the three exports with the real readers and prints what they read, as JSON.
const READ_EXPORTS: &str = r#"
import json, sys
import bibtexparser, rispy
from citeproc import CitationStylesStyle, CitationStylesBibliography, Citation, CitationItem, formatter
from citeproc.source.json import CiteProcJSON

bib, ris, csl = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
library = bibtexparser.parse_string(bib)
assert not library.failed_blocks, library.failed_blocks
entry = library.entries[0]
records = rispy.loads(ris)
items = json.loads(csl)
source = CiteProcJSON(items)
style = CitationStylesStyle("harvard-cite-them-right", validate=False)
bibliography = CitationStylesBibliography(style, source, formatter.plain)
bibliography.register(Citation([CitationItem(items[0]["id"])]))
print(json.dumps({
    "bib_type": entry.entry_type,
    "bib_key": entry.key,
    "bib": {k: entry.fields_dict[k].value for k in entry.fields_dict},
    "ris": records,
    "rendered": [str(item) for item in bibliography.bibliography()],
}))
"#;

/// The test venv's Python, or `None` (with a loud SKIPPED) outside CI when it is missing.
pub(crate) fn venv_python() -> Option<PathBuf> {
    let python = workspace_root().join("target/tools/hf-venv/bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the test venv is required in CI"
    );
    eprintln!(
        "SKIPPED: {} missing (run scripts/ensure-test-deps)",
        python.display()
    );
    None
}

/// Runs `script` over `files` and returns what it printed, as JSON.
pub(crate) fn read_with(python: &Path, script: &str, files: &[PathBuf]) -> Value {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the readers refused an export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paper_exports_to_bibtex_ris_and_csl_json_that_real_parsers_read_back() {
    let Some(python) = venv_python() else {
        return;
    };
    let server = Server::start();
    let store = store_of(&server);
    let day = NaiveDate::from_ymd_opt(2026, 8, 21).unwrap();
    let entries = store.featured_between(day, day).await.unwrap();
    let paper = &entries
        .iter()
        .find(|e| e.paper.authors.len() > 1)
        .expect("a sample paper with several authors")
        .paper;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (suffix, content_type) in [
        ("bib", "application/x-bibtex"),
        ("ris", "application/x-research-info-systems"),
        ("csl.json", "application/vnd.citationstyles.csl+json"),
    ] {
        let resp = reqwest::get(server.url(&format!("/papers/{}.{suffix}", paper.id)))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{suffix}");
        let got = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(got.starts_with(content_type), "{suffix}: {got}");
        let path = dir.path().join(format!("export.{suffix}"));
        std::fs::write(&path, resp.bytes().await.unwrap()).unwrap();
        files.push(path);
    }
    let read = read_with(&python, READ_EXPORTS, &files);
    let id = paper.id.as_str();
    let doi = format!("10.48550/arXiv.{id}");

    // BibTeX: an arXiv @misc as citation managers expect.
    assert_eq!(read["bib_type"], "misc");
    let bib = &read["bib"];
    assert_eq!(bib["eprint"], id);
    assert_eq!(bib["archivePrefix"], "arXiv");
    assert_eq!(bib["doi"], doi.as_str());
    assert_eq!(bib["url"], format!("https://arxiv.org/abs/{id}"));
    let bib_authors: Vec<&str> = bib["author"].as_str().unwrap().split(" and ").collect();
    let visible: Vec<&str> = paper
        .authors
        .iter()
        .filter(|a| !a.hidden)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(bib_authors.len(), visible.len());
    assert!(
        bib["title"]
            .as_str()
            .unwrap()
            .contains(paper.title.split_whitespace().next().unwrap())
    );

    // RIS: one record, every visible author, the DOI.
    let records = read["ris"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["type_of_reference"], "UNPB");
    assert_eq!(record["doi"], doi.as_str());
    assert_eq!(
        record["authors"].as_array().unwrap().len(),
        visible.len(),
        "{record}"
    );

    // CSL-JSON: citeproc renders a bibliography entry naming the first author's family name.
    let rendered = read["rendered"][0].as_str().unwrap();
    let family = visible[0].rsplit(' ').next().unwrap();
    assert!(rendered.contains(family), "{rendered}");
    assert!(rendered.contains("arXiv"), "{rendered}");

    // The page itself carries the tags Zotero's and Google Scholar's importers read.
    let (status, html) = server.get(&format!("/papers/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(
        r#"<meta name="citation_arxiv_id" content="{id}">"#
    )));
    assert!(html.contains(&format!(
        r#"<meta name="citation_pdf_url" content="https://arxiv.org/pdf/{id}">"#
    )));
    assert_eq!(
        html.matches(r#"<meta name="citation_author""#).count(),
        visible.len()
    );
    assert!(html.contains(r#"<meta name="citation_title""#));
}

/// Counts what the real readers find in a list export.
pub(crate) const COUNT_EXPORTS: &str = r#"
import json, sys
import bibtexparser, rispy
bib, ris, csl = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
library = bibtexparser.parse_string(bib)
assert not library.failed_blocks, library.failed_blocks
print(json.dumps({
    "bib": sorted(e.fields_dict["eprint"].value for e in library.entries),
    "ris": sorted(r["notes"][0].removeprefix("arXiv:") for r in rispy.loads(ris)),
    "csl": sorted(item["number"] for item in json.loads(csl)),
}))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_day_a_week_and_a_month_export_each_of_their_papers_once() {
    let Some(python) = venv_python() else {
        return;
    };
    let server = Server::start();
    let store = store_of(&server);
    let dir = tempfile::tempdir().unwrap();
    for (path, first, last) in [
        ("/papers/date/2026-08-21", "2026-08-21", "2026-08-21"),
        ("/papers/week/2026-W34", "2026-08-17", "2026-08-23"),
        ("/papers/month/2026-08", "2026-08-01", "2026-08-31"),
    ] {
        let mut want: Vec<String> = store
            .featured_between(first.parse().unwrap(), last.parse().unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.paper.id.to_string())
            .collect();
        want.sort();
        want.dedup();
        assert!(!want.is_empty(), "{path}: the sample has papers there");
        let mut files = Vec::new();
        for suffix in ["bib", "ris", "csl.json"] {
            let (status, body) = server.get(&format!("{path}.{suffix}")).await;
            assert_eq!(status, 200, "{path}.{suffix}");
            let file = dir.path().join(format!("list.{suffix}"));
            std::fs::write(&file, body).unwrap();
            files.push(file);
        }
        let read = read_with(&python, COUNT_EXPORTS, &files);
        for format in ["bib", "ris", "csl"] {
            let got: Vec<String> = serde_json::from_value(read[format].clone()).unwrap();
            assert_eq!(got, want, "{path} as {format}");
        }
    }
    // List pages carry each card as COinS, which Zotero's connector reads.
    let (status, html) = server.get("/papers/date/2026-08-21").await;
    assert_eq!(status, 200);
    let cards = html.matches("data-paper-id=").count();
    assert!(cards > 0);
    assert_eq!(
        html.matches(r#"<span class="Z3988" title="ctx_ver=Z39.88-2004"#)
            .count(),
        cards
    );
    assert!(html.contains("rft_id=info%3Aarxiv%2F"));
    // A period without papers has nothing to export, and says so.
    let (status, _) = server.get("/papers/date/2001-01-01.bib").await;
    assert_eq!(status, 404);
}

/// The eprints a BibTeX file holds, as bibtexparser reads them.
const READ_EPRINTS: &str = r#"
import json, sys
import bibtexparser
library = bibtexparser.parse_string(open(sys.argv[1], encoding="utf-8").read())
assert not library.failed_blocks, library.failed_blocks
print(json.dumps([e.fields_dict["eprint"].value for e in library.entries]))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_search_exports_its_top_results_in_rank_order() {
    let Some(python) = venv_python() else {
        return;
    };
    let server = Server::start();
    server.wait_for_index(false).await;
    let (status, html) = server.get("/papers?q=agent&mode=keyword").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"/papers?q=agent&#38;mode=keyword&amp;format=bib" download>BibTeX</a>"#),
        "the page links its export"
    );
    let first_card = html
        .split("data-paper-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a result")
        .to_owned();
    let (status, bib) = server.get("/papers?q=agent&mode=keyword&format=bib").await;
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("search.bib");
    std::fs::write(&file, bib).unwrap();
    let eprints: Vec<String> = serde_json::from_value(read_with(
        &python,
        READ_EPRINTS,
        std::slice::from_ref(&file),
    ))
    .unwrap();
    assert!(
        eprints.len() > 20 && eprints.len() <= 100,
        "{}",
        eprints.len()
    );
    assert_eq!(
        eprints[0], first_card,
        "the export keeps the page's ranking"
    );
    let mut unique = eprints.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), eprints.len());

    let (status, body) = server.get("/papers?q=agent&format=docx").await;
    assert_eq!(status, 400);
    assert!(body.contains("use bib, ris or csl"), "{body}");
}
