use super::*;

const LAST_PAGE: &[u8] =
    include_bytes!("../../tests/fixtures/ListRecords_arXiv_set-cs_2016-03-09_page103.xml");

fn ok(page: &OaiPage) -> Vec<&NewPaper> {
    page.parsed
        .records
        .iter()
        .map(|r| r.as_ref().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn page(records: &str, token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
<responseDate>2016-03-09T00:35:38Z</responseDate>
<request verb="ListRecords" metadataPrefix="arXiv" set="cs">http://export.arxiv.org/oai2</request>
<ListRecords>
{records}
{token}
</ListRecords>
</OAI-PMH>
"#
    )
}

fn record(id: &str) -> String {
    format!(
        r#"<record>
<header>
 <identifier>oai:arXiv.org:{id}</identifier>
 <datestamp>2008-12-13</datestamp>
 <setSpec>cs</setSpec>
</header>
<metadata>
 <arXiv xmlns="http://arxiv.org/OAI/arXiv/">
 <id>{id}</id><created>2007-03-30</created><updated>2008-12-13</updated><authors><author><keyname>Streinu</keyname><forenames>Ileana</forenames></author><author><keyname>Evans</keyname><forenames>Neal J.</forenames><suffix>II</suffix><affiliation>Somewhere</affiliation></author></authors><title>Sparsity-certifying Graph
  Decompositions</title><categories>math.CO cs.CG</categories><abstract>  We describe the $(k,\ell)$-pebble game &amp; &quot;more&quot;.
</abstract></arXiv>
</metadata>
</record>"#
    )
}

#[test]
fn the_real_last_page_has_538_records_and_an_empty_token() {
    let page = parse_oai_pmh(LAST_PAGE);
    assert_eq!(page.parsed.fatal, None);
    let papers = ok(&page);
    assert_eq!(papers.len(), 538);
    assert!(page.deleted.is_empty());
    let token = page.resumption_token.clone().expect("token");
    assert_eq!(
        token,
        ResumptionToken {
            token: String::new(),
            cursor: Some(102_000),
            complete_list_size: Some(102_538),
        }
    );
    assert!(token.is_end());
    let last = papers[537];
    assert_eq!(last.id.as_str(), "quant-ph/9912100");
    assert_eq!(
        last.title,
        "Quantum Computing, NP-complete Problems and Chaotic Dynamics"
    );
    let names: Vec<_> = last.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Masanori Ohya", "Igor V. Volovich"]);
    assert_eq!(
        last.categories,
        [
            "quant-ph",
            "chao-dyn",
            "cond-mat.mes-hall",
            "cs.CC",
            "nlin.CD",
            "physics.atom-ph"
        ]
    );
    assert_eq!(last.published_at, "1999-12-21T00:00:00Z".parse().ok());
    assert!(
        last.abstract_text
            .starts_with("An approach to the solution")
    );
    assert!(last.versions.is_empty());
}

#[test]
fn a_synthetic_page_maps_every_field_and_reads_the_token() {
    let xml = page(
        &record("0704.0002"),
        r#"<resumptionToken cursor="0" completeListSize="102538">1122234|1001</resumptionToken>"#,
    );
    let page = parse_oai_pmh(xml.as_bytes());
    let papers = ok(&page);
    assert_eq!(papers.len(), 1);
    let p = papers[0];
    assert_eq!(p.id.as_str(), "0704.0002");
    assert_eq!(p.title, "Sparsity-certifying Graph Decompositions");
    assert_eq!(
        p.abstract_text,
        "We describe the $(k,\\ell)$-pebble game & \"more\"."
    );
    let names: Vec<_> = p.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Ileana Streinu", "Neal J. Evans II"]);
    assert_eq!(p.categories, ["math.CO", "cs.CG"]);
    assert_eq!(p.published_at, "2007-03-30T00:00:00Z".parse().ok());
    assert_eq!(
        page.resumption_token,
        Some(ResumptionToken {
            token: "1122234|1001".into(),
            cursor: Some(0),
            complete_list_size: Some(102_538),
        })
    );
    assert!(!page.resumption_token.expect("token").is_end());
}

#[test]
fn a_page_without_a_token_and_a_self_closed_token_differ() {
    let none = parse_oai_pmh(page(&record("0704.0002"), "").as_bytes());
    assert_eq!(none.resumption_token, None);
    let empty = parse_oai_pmh(page(&record("0704.0002"), "<resumptionToken/>").as_bytes());
    assert_eq!(
        empty.resumption_token,
        Some(ResumptionToken {
            token: String::new(),
            cursor: None,
            complete_list_size: None
        })
    );
}

#[test]
fn deleted_records_are_listed_not_rejected() {
    let deleted = r#"<record><header status="deleted"><identifier>oai:arXiv.org:0704.0003</identifier><datestamp>2016-01-01</datestamp></header></record>"#;
    let xml = page(
        &[record("0704.0002"), deleted.into(), record("0704.0004")].join("\n"),
        "",
    );
    let page = parse_oai_pmh(xml.as_bytes());
    assert_eq!(page.parsed.fatal, None);
    assert_eq!(ok(&page).len(), 2);
    assert_eq!(page.deleted, ["oai:arXiv.org:0704.0003"]);
}

#[test]
fn no_records_match_is_an_empty_harvest_and_other_errors_are_fatal() {
    let empty = r#"<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2016-03-09T00:35:38Z</responseDate>
<request verb="ListRecords">http://export.arxiv.org/oai2</request>
<error code="noRecordsMatch">No records match</error></OAI-PMH>"#;
    let page = parse_oai_pmh(empty.as_bytes());
    assert!(page.parsed.records.is_empty());
    assert_eq!(page.parsed.fatal, None);

    let bad = empty.replace(
        "noRecordsMatch\">No records match",
        "badResumptionToken\">The value of the\n resumptionToken argument is invalid or expired.",
    );
    let page = parse_oai_pmh(bad.as_bytes());
    assert!(page.parsed.records.is_empty());
    let fatal = page.parsed.fatal.expect("fatal");
    assert_eq!(
        fatal.reason,
        "OAI-PMH error \"badResumptionToken\": The value of the resumptionToken argument is invalid or expired."
    );
}

#[test]
fn a_truncated_page_keeps_the_complete_records_and_names_the_line() {
    let half = &LAST_PAGE[..LAST_PAGE.len() / 2];
    let page = parse_oai_pmh(half);
    let kept = ok(&page).len();
    assert!((260..280).contains(&kept), "{kept}");
    let fatal = page.parsed.fatal.expect("fatal");
    assert!(
        matches!(fatal.location, Location::Line(n) if n > 1000),
        "{fatal}"
    );
    assert!(
        fatal.reason.contains("truncated or malformed XML"),
        "{fatal}"
    );
}

#[test]
fn a_bad_record_is_rejected_and_its_neighbours_kept() {
    let bad_id = record("0704.0003").replace("<id>0704.0003</id>", "<id>0704.3</id>");
    let bad_date = record("0704.0004").replace("2007-03-30", "30/03/2007");
    let no_abstract = record("0704.0005").replace(
        "We describe the $(k,\\ell)$-pebble game &amp; &quot;more&quot;.",
        "",
    );
    let oai_dc = r#"<record><header><identifier>oai:arXiv.org:0704.0006</identifier></header><metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"/></metadata></record>"#;
    let xml = page(
        &[
            record("0704.0002"),
            bad_id,
            bad_date,
            no_abstract,
            oai_dc.into(),
            record("0704.0007"),
        ]
        .join("\n"),
        "",
    );
    let page = parse_oai_pmh(xml.as_bytes());
    assert_eq!(page.parsed.fatal, None);
    let records = &page.parsed.records;
    assert_eq!(records.len(), 6);
    assert!(records[0].is_ok() && records[5].is_ok());
    let reasons: Vec<_> = records[1..5]
        .iter()
        .map(|r| r.as_ref().expect_err("bad").to_string())
        .collect();
    assert!(
        reasons[0].starts_with("entry 1: <id>: \"0704.3\" is not an arXiv id"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[0].ends_with("(record at line 19)"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].starts_with("entry 2: <created>: \"30/03/2007\" is not a YYYY-MM-DD date"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].starts_with("entry 3: <abstract> is empty"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3]
            .starts_with("entry 4: record \"oai:arXiv.org:0704.0006\" has no <arXiv> metadata"),
        "{}",
        reasons[3]
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(LAST_PAGE);
    assert_eq!(ok(&parse_oai_pmh(&bytes)).len(), 538);
}

#[test]
fn empty_input_garbage_and_other_roots_are_fatal() {
    for (input, want) in [
        (&b""[..], "the file is empty"),
        (
            b"\xff\xfe\x00<\x00O\x00A\x00I",
            "truncated or malformed XML",
        ),
        (b"{\"id\": \"0704.0001\"}", "no XML root element"),
        (
            b"<feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
            "found a <feed> root",
        ),
        (
            b"<OAI-PMH><ListRecords><record><header>",
            "ends before </OAI-PMH>",
        ),
    ] {
        let page = parse_oai_pmh(input);
        assert!(page.parsed.records.is_empty());
        let fatal = page.parsed.fatal.unwrap_or_else(|| panic!("{input:?}"));
        assert!(fatal.reason.contains(want), "{input:?}: {fatal}");
    }
}

#[test]
fn an_invalid_utf8_byte_late_in_a_page_is_reported_where_it_is() {
    let good = record("0704.0002");
    let bad = record("0704.0003").replace("Streinu", "Stre\u{fffd}nu");
    let xml = page(&format!("{good}\n{bad}"), "");
    let mut bytes = xml.into_bytes();
    // Turn the replacement character (EF BF BD) into one invalid byte and two spaces.
    let at = memchr::memmem::find(&bytes, "\u{fffd}".as_bytes()).expect("marker");
    bytes[at..at + 3].copy_from_slice(b"\xff  ");
    let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
    let parsed = parse_oai_pmh(&bytes);
    assert_eq!(ok(&parsed).len(), 1, "the record before the damage is kept");
    let fatal = parsed.parsed.fatal.expect("fatal");
    assert_eq!(fatal.location, Location::Line(line), "{fatal}");
    assert_eq!(
        fatal.reason,
        format!("truncated or malformed XML at byte {at}: invalid UTF-8")
    );
    assert!(line > 20);
}

/// A sink that keeps everything, for the streaming reader.
fn stream(bytes: &[u8], max_record: usize) -> (Vec<RecordResult>, OaiPage) {
    let mut records = Vec::new();
    let mut sink = |r| {
        records.push(r);
        ControlFlow::Continue(())
    };
    let page = read_oai(
        std::io::BufReader::with_capacity(7, bytes),
        max_record,
        &mut sink,
    );
    (records, page)
}

#[test]
fn a_record_over_the_limit_is_rejected_and_the_next_one_read() {
    // Long through many short elements, each well under the limit.
    let many = "<author><keyname>X</keyname></author>".repeat(100);
    let long = record("0704.0003").replace("<authors>", &format!("<authors>{many}"));
    let xml = page(
        &format!("{}\n{long}\n{}", record("0704.0002"), record("0704.0004")),
        "",
    );
    let (records, page) = stream(xml.as_bytes(), 2048);
    assert_eq!(page.parsed.fatal, None);
    let got: Vec<String> = records
        .iter()
        .map(|r| match r {
            Ok(p) => p.id.to_string(),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], "0704.0002");
    assert_eq!(
        got[1],
        "entry 1: the record is 4397 bytes long, over the 2048 bytes limit; skipped (record at line 19)"
    );
    assert_eq!(got[2], "0704.0004");
}

#[test]
fn one_tag_or_text_over_the_limit_ends_the_page_where_it_starts() {
    let long = record("0704.0003").replace("pebble game", &"pebble ".repeat(400));
    let xml = page(&format!("{}\n{long}", record("0704.0002")), "");
    let (records, page) = stream(xml.as_bytes(), 1024);
    assert_eq!(records.len(), 1);
    let fatal = page.parsed.fatal.expect("fatal");
    assert!(
        fatal
            .reason
            .ends_with("one tag or text is over the 1024 bytes limit; the rest is not read"),
        "{fatal}"
    );
    assert_eq!(fatal.location, Location::Line(28), "{fatal}");
}

#[test]
fn a_flood_of_empty_records_keeps_a_bounded_number_of_reasons() {
    let mut xml = "<OAI-PMH><ListRecords>".to_owned();
    xml.push_str(&"<record/>".repeat(50_000));
    xml.push_str(
        "<record><header status=\"deleted\"/></record>"
            .repeat(20_000)
            .as_str(),
    );
    xml.push_str("</ListRecords></OAI-PMH>");
    let page = parse_oai_pmh(xml.as_bytes());
    assert_eq!(page.parsed.fatal, None);
    assert_eq!(page.parsed.records.len(), Parsed::MAX_KEPT_ERRORS);
    assert_eq!(page.parsed.rejected(), 50_000);
    assert_eq!(page.deleted.len(), OaiPage::MAX_KEPT_DELETED);
    assert_eq!(page.deleted_count, 20_000);
}

#[test]
fn nesting_deeper_than_any_feed_ends_the_page() {
    let xml = format!("<OAI-PMH>{}", "<a>".repeat(10_000));
    let fatal = parse_oai_pmh(xml.as_bytes()).parsed.fatal.expect("fatal");
    assert!(
        fatal.reason.ends_with("elements nested over 256 deep"),
        "{fatal}"
    );
}
