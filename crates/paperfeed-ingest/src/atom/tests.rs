use super::*;

const REAL: &[u8] =
    include_bytes!("../../tests/fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml");

fn ok(page: &AtomPage) -> Vec<&NewPaper> {
    page.parsed
        .records
        .iter()
        .map(|r| r.as_ref().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn feed(entries: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <opensearch:totalResults>7</opensearch:totalResults>
  <opensearch:startIndex>5</opensearch:startIndex>
  <opensearch:itemsPerPage>2</opensearch:itemsPerPage>
{entries}
</feed>
"#
    )
}

fn entry(id: &str) -> String {
    format!(
        r#"  <entry>
    <id>http://arxiv.org/abs/{id}</id>
    <updated>2024-03-14T10:00:00Z</updated>
    <published>2024-03-11T17:59:41Z</published>
    <title>Stealing Part of a
  Production Language Model</title>
    <summary>  We introduce the first model-stealing attack &amp; more.
</summary>
    <author><name>Nicholas Carlini</name><arxiv:affiliation>Google</arxiv:affiliation></author>
    <author><name>Daniel Paleka</name></author>
    <arxiv:primary_category term="cs.CR"/>
    <category term="cs.LG"/>
    <category term="cs.CR"/>
  </entry>"#
    )
}

#[test]
fn the_real_feed_gives_two_entries_and_the_paging_numbers() {
    let page = parse_arxiv_atom(REAL);
    assert_eq!(page.parsed.fatal, None);
    assert_eq!(page.total_results, Some(5619));
    assert_eq!(page.start_index, Some(0));
    assert_eq!(page.items_per_page, Some(2));
    let papers = ok(&page);
    assert_eq!(papers.len(), 2);
    let first = papers[0];
    assert_eq!(first.id.as_str(), "2510.14968");
    assert_eq!(
        first.title,
        "RDD: Retrieval-Based Demonstration Decomposer for Planner Alignment in Long-Horizon Tasks"
    );
    assert!(
        first
            .abstract_text
            .starts_with("To tackle long-horizon tasks, recent")
    );
    assert!(
        first
            .abstract_text
            .ends_with("available at rdd-neurips.github.io.")
    );
    let names: Vec<_> = first.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["Mingxuan Yan", "Yuping Wang", "Zechun Liu", "Jiachen Li"]
    );
    assert_eq!(
        first.categories,
        ["cs.RO", "cs.AI", "cs.CV", "cs.LG", "cs.SY", "eess.SY"]
    );
    let published = "2025-10-16T17:59:37Z".parse::<DateTime<Utc>>().ok();
    assert_eq!(first.published_at, published);
    assert_eq!(
        first.versions,
        [PaperVersion {
            number: 1,
            submitted_at: published
        }]
    );
    assert_eq!(papers[1].id.as_str(), "2510.14827");
    assert_eq!(papers[1].authors.len(), 6);
    assert_eq!(papers[1].categories, ["cs.RO"]);
}

#[test]
fn a_later_version_lists_v1_from_published_and_itself_from_updated() {
    let page = parse_arxiv_atom(feed(&entry("2403.06634v3")).as_bytes());
    let papers = ok(&page);
    assert_eq!(papers.len(), 1);
    let p = papers[0];
    assert_eq!(p.id.as_str(), "2403.06634");
    assert_eq!(p.title, "Stealing Part of a Production Language Model");
    assert_eq!(
        p.abstract_text,
        "We introduce the first model-stealing attack & more."
    );
    assert_eq!(p.authors.len(), 2);
    assert_eq!(p.categories, ["cs.CR", "cs.LG"]);
    assert_eq!(
        p.versions,
        [
            PaperVersion {
                number: 1,
                submitted_at: "2024-03-11T17:59:41Z".parse().ok()
            },
            PaperVersion {
                number: 3,
                submitted_at: "2024-03-14T10:00:00Z".parse().ok()
            }
        ]
    );
    assert_eq!(page.total_results, Some(7));
    assert_eq!(page.start_index, Some(5));
}

#[test]
fn prefixes_declared_on_each_element_or_renamed_work_alike() {
    let xml = r#"<a:feed xmlns:a="http://www.w3.org/2005/Atom">
<os:totalResults xmlns:os="http://a9.com/-/spec/opensearch/1.1/">1</os:totalResults>
<a:entry><a:id>http://arxiv.org/abs/hep-th/9901001v1</a:id><a:title>T</a:title>
<a:summary>S</a:summary><a:author><a:name>A B</a:name></a:author>
<x:primary_category xmlns:x="http://arxiv.org/schemas/atom" term="hep-th"/></a:entry></a:feed>"#;
    let page = parse_arxiv_atom(xml.as_bytes());
    let papers = ok(&page);
    assert_eq!(page.total_results, Some(1));
    assert_eq!(papers[0].id.as_str(), "hep-th/9901001");
    assert_eq!(papers[0].categories, ["hep-th"]);
    assert_eq!(papers[0].authors[0].name, "A B");
}

#[test]
fn an_api_error_entry_is_a_fatal_error_with_its_message() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345</summary>
    <updated>2025-10-17T00:00:00-04:00</updated>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>"#;
    let page = parse_arxiv_atom(xml.as_bytes());
    assert!(page.parsed.records.is_empty());
    let fatal = page.parsed.fatal.expect("fatal");
    assert_eq!(
        fatal.reason,
        "arXiv API error: incorrect id format for 1234.12345"
    );
}

#[test]
fn an_empty_feed_has_no_records_and_no_error() {
    let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:totalResults></feed>"#;
    let page = parse_arxiv_atom(xml.as_bytes());
    assert!(page.parsed.records.is_empty());
    assert_eq!(page.parsed.fatal, None);
    assert_eq!(page.total_results, Some(0));
}

#[test]
fn a_truncated_feed_keeps_the_complete_entries_and_names_the_line() {
    let cut = REAL.len() / 2 + 1000;
    let page = parse_arxiv_atom(&REAL[..cut]);
    assert_eq!(ok(&page).len(), 1);
    let fatal = page.parsed.fatal.expect("fatal");
    assert!(
        matches!(fatal.location, Location::Line(n) if n > 50),
        "{fatal}"
    );
    assert!(
        fatal.reason.contains("truncated or malformed XML"),
        "{fatal}"
    );

    let cut_in_tag = &REAL[..REAL.len() - 20];
    let page = parse_arxiv_atom(cut_in_tag);
    assert_eq!(ok(&page).len(), 1);
    assert!(page.parsed.fatal.is_some());
}

#[test]
fn bad_ids_dates_and_empty_texts_reject_only_their_entry() {
    let bad_id = entry("2403.06634v1").replace("2403.06634v1", "not-an-id");
    let bad_date = entry("2403.06635v1").replace("2024-03-11T17:59:41Z", "yesterday");
    let no_title = entry("2403.06636v1")
        .replace("Stealing Part of a", "")
        .replace("  Production Language Model", " ");
    let xml = feed(
        &[
            entry("2403.06633"),
            bad_id,
            bad_date,
            no_title,
            entry("2403.06637v2"),
        ]
        .join("\n"),
    );
    let page = parse_arxiv_atom(xml.as_bytes());
    assert_eq!(page.parsed.fatal, None);
    let records = &page.parsed.records;
    assert_eq!(records.len(), 5);
    assert!(records[0].is_ok() && records[4].is_ok());
    let reasons: Vec<_> = records[1..4]
        .iter()
        .map(|r| r.as_ref().expect_err("bad").to_string())
        .collect();
    assert!(
        reasons[0]
            .starts_with("entry 1: <id>: \"http://arxiv.org/abs/not-an-id\" is not an arXiv id"),
        "{}",
        reasons[0]
    );
    assert!(reasons[0].ends_with("(entry at line 20)"), "{}", reasons[0]);
    assert!(
        reasons[1].starts_with("entry 2: <published>: \"yesterday\""),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].starts_with("entry 3: <title> is empty"),
        "{}",
        reasons[2]
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(REAL);
    assert_eq!(ok(&parse_arxiv_atom(&bytes)).len(), 2);
}

#[test]
fn empty_input_garbage_and_other_roots_are_fatal() {
    for (input, want) in [
        (&b""[..], "the file is empty"),
        (b"  \n", "the file is empty"),
        (
            b"\x00\x01\x02\xff\xfe garbage",
            "truncated or malformed XML",
        ),
        (b"hello", "no XML root element"),
        (
            b"<rss><channel/></rss>",
            "expected an arXiv API Atom <feed>, found a <rss> root",
        ),
        (b"<feed><entry/></feed>", "declares no namespace"),
        (b"<feed xmlns=\"urn:x\"></feed>", "not the Atom namespace"),
        (
            b"<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"/>",
            "found a <OAI-PMH> root",
        ),
    ] {
        let page = parse_arxiv_atom(input);
        assert!(page.parsed.records.is_empty());
        let fatal = page.parsed.fatal.unwrap_or_else(|| panic!("{input:?}"));
        assert!(fatal.reason.contains(want), "{input:?}: {fatal}");
    }
}

#[test]
fn a_flood_of_empty_entries_keeps_a_bounded_number_of_reasons() {
    let xml = feed(&format!(
        "{}{}",
        "<entry/>".repeat(20_000),
        entry("2403.06634v1")
    ));
    let page = parse_arxiv_atom(xml.as_bytes());
    assert_eq!(page.parsed.fatal, None);
    assert_eq!(page.parsed.records.len(), Parsed::MAX_KEPT_ERRORS + 1);
    assert_eq!(page.parsed.rejected(), 20_000);
    assert!(page.parsed.records.last().is_some_and(Result::is_ok));
}

#[test]
fn an_entry_over_the_limit_is_rejected_and_the_next_one_read() {
    let many = "<category term=\"cs.RO\"/>".repeat(200);
    let long = entry("2403.06635v1").replace("</entry>", &format!("{many}</entry>"));
    let xml = feed(&format!(
        "{}{long}{}",
        entry("2403.06634v1"),
        entry("2403.06636v1")
    ));
    let mut got = Vec::new();
    let mut sink = |r: RecordResult| {
        got.push(r.map(|p| p.id.to_string()).map_err(|e| e.reason));
        ControlFlow::Continue(())
    };
    let page = read_atom(
        std::io::BufReader::with_capacity(5, xml.as_bytes()),
        2048,
        &mut sink,
    );
    assert_eq!(page.parsed.fatal, None);
    assert_eq!(page.total_results, Some(7));
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], Ok("2403.06634".to_owned()));
    assert!(
        got[1]
            .as_ref()
            .is_err_and(|e| e.contains("over the 2048 bytes limit; skipped")),
        "{got:?}"
    );
    assert_eq!(got[2], Ok("2403.06636".to_owned()));
}
