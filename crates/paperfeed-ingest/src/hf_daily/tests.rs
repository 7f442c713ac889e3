use super::*;

const MARCH_2024: &[u8] = include_bytes!("../../tests/fixtures/2024-03-12.json");
const FEB_2025: &[u8] = include_bytes!("../../tests/fixtures/2025-02-06.json");
const MARCH_2025: &[u8] = include_bytes!("../../tests/fixtures/2025-03-11.json");
const AUG_2026: &[u8] = include_bytes!("../../tests/fixtures/2026-08-21.json");

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ok(parsed: &Parsed) -> Vec<&NewPaper> {
    assert_eq!(parsed.fatal, None);
    parsed
        .records
        .iter()
        .map(|r| r.as_ref().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn the_compact_2024_file_maps_every_field() {
    let parsed = parse_hf_daily(MARCH_2024, Some(day("2024-03-12")));
    let papers = ok(&parsed);
    assert_eq!(papers.len(), 9);
    let p = papers[0];
    assert_eq!(p.id.as_str(), "2403.06634");
    assert_eq!(p.title, "Stealing Part of a Production Language Model");
    assert_eq!(p.authors.len(), 13);
    assert_eq!(p.authors[0].name, "Nicholas Carlini");
    assert_eq!(p.authors[0].user.as_deref(), Some("carlini"));
    assert_eq!(p.authors[2].user, None);
    assert_eq!(p.authors[12].name, "Florian Tramèr");
    assert_eq!(p.upvotes, Some(63));
    assert_eq!(p.num_comments, Some(3));
    let featured = p.featured.as_ref().expect("featured");
    assert_eq!(featured.date, day("2024-03-12"));
    assert_eq!(featured.submitter, None);
    assert_eq!(p.published_at, "2024-03-11T11:46:12.000Z".parse().ok());
    assert!(p.versions.is_empty() && p.categories.is_empty());
}

#[test]
fn the_2025_files_carry_a_submitter_and_ai_fields() {
    let papers = parse_hf_daily(FEB_2025, Some(day("2025-02-06")));
    let papers = ok(&papers);
    assert_eq!(papers.len(), 9);
    let p = papers[0];
    assert_eq!(p.id.as_str(), "2502.01506");
    assert_eq!(p.upvotes, Some(18));
    assert_eq!(p.num_comments, Some(2));
    assert_eq!(p.authors.len(), 8);
    let featured = p.featured.as_ref().expect("featured");
    assert_eq!(featured.date, day("2025-02-06"));
    assert_eq!(
        featured.submitter.as_ref().map(|s| s.name.as_str()),
        Some("amstrongzyf")
    );

    let parsed = parse_hf_daily(MARCH_2025, Some(day("2025-03-11")));
    let papers = ok(&parsed);
    assert_eq!(papers.len(), 26);
    assert_eq!(papers[0].id.as_str(), "2503.03601");
    assert_eq!(papers[0].upvotes, Some(58));
    assert!(papers.iter().any(|p| p.ai_keywords.is_some()));
    assert!(papers.iter().any(|p| p.github_repo.is_some()));
}

#[test]
fn the_2026_file_takes_the_day_and_submitter_from_the_paper() {
    let parsed = parse_hf_daily(AUG_2026, None);
    let papers = ok(&parsed);
    assert_eq!(papers.len(), 17);
    let p = papers[0];
    assert_eq!(p.id.as_str(), "2608.19880");
    assert_eq!(
        p.title,
        "EnvHarness: Awakening Static Worlds for Agent Learning"
    );
    assert_eq!(p.authors.len(), 17);
    assert_eq!(p.upvotes, Some(163));
    assert_eq!(
        p.featured,
        Some(Featuring {
            date: day("2026-08-21"),
            submitter: Some(Submitter {
                name: "taesiri".into(),
                fullname: Some("taesiri".into())
            }),
        })
    );
    assert!(p.ai_summary.is_some());
    assert_eq!(
        p.organization,
        Some(Organization {
            name: "google".into(),
            fullname: Some("Google".into())
        })
    );
}

#[test]
fn an_organization_without_a_valid_name_is_dropped_and_the_entry_kept() {
    let entry = |org: &str| {
        format!(
            r#"[{{"paper": {{"id": "2403.06634", "title": "T", "summary": "S",
                 "organization": {org}}}}}]"#
        )
    };
    for org in [
        r#"{"name": "<script>"}"#,
        r#"{"fullname": "No name"}"#,
        "null",
    ] {
        let parsed = parse_hf_daily(entry(org).as_bytes(), None);
        let papers = ok(&parsed);
        assert_eq!(papers.len(), 1, "{org}");
        assert_eq!(papers[0].organization, None, "{org}");
    }
}

#[test]
fn the_featured_day_prefers_submitted_on_daily_then_the_feed_date_then_published_at() {
    // The first March 2025 entry was put on the feed on 2025-03-05 but answers date=2025-03-11.
    let with_feed_date = parse_hf_daily(MARCH_2025, Some(day("2025-03-11")));
    let without = parse_hf_daily(MARCH_2025, None);
    let date = |parsed: &Parsed| {
        ok(parsed)[0]
            .featured
            .as_ref()
            .map(|f| f.date)
            .expect("featured")
    };
    assert_eq!(date(&with_feed_date), day("2025-03-11"));
    assert_eq!(date(&without), day("2025-03-05"));

    let json = |daily: &str| {
        format!(
            r#"[{{"paper":{{"id":"2403.06634","title":"T","summary":"S","upvotes":1,
                "publishedAt":"2024-03-11T17:59:41.000Z"{daily}}},
                "publishedAt":"2024-03-11T21:00:00.000Z","numComments":0}}]"#
        )
    };
    let own = json(
        r#","submittedOnDailyAt":"2024-03-13T00:00:00.000Z","submittedOnDailyBy":{"user":"akhaliq","fullname":"AK"}"#,
    );
    let parsed = parse_hf_daily(own.as_bytes(), Some(day("2024-03-12")));
    assert_eq!(
        ok(&parsed)[0].featured,
        Some(Featuring {
            date: day("2024-03-13"),
            submitter: Some(Submitter {
                name: "akhaliq".into(),
                fullname: Some("AK".into())
            })
        })
    );
    let parsed = parse_hf_daily(json("").as_bytes(), None);
    assert_eq!(
        ok(&parsed)[0].featured.as_ref().map(|f| f.date),
        Some(day("2024-03-11"))
    );
}

#[test]
fn empty_strings_and_null_optionals_become_none() {
    let json = r#"[{"paper":{"id":"arXiv:2403.06634v2","title":" T \n x","summary":"S",
            "githubRepo":"","projectPage":"  ","ai_summary":null,"ai_keywords":null,
            "githubStars":null,"upvotes":null,"authors":[{"name":" A ","hidden":true,"user":{"fullname":"x"}},{"name":""}]},
            "submittedBy":{"name":"","fullname":"Nobody"}}]"#;
    let parsed = parse_hf_daily(json.as_bytes(), Some(day("2024-03-12")));
    let p = ok(&parsed)[0];
    assert_eq!(p.id.as_str(), "2403.06634");
    assert_eq!(p.title, "T x");
    assert_eq!(p.github_repo, None);
    assert_eq!(p.project_page, None);
    assert_eq!(p.ai_summary, None);
    assert_eq!(p.ai_keywords, None);
    assert_eq!(p.upvotes, None);
    assert_eq!(
        p.authors,
        [Author {
            name: "A".into(),
            user: None,
            hidden: true
        }]
    );
    assert_eq!(p.featured.as_ref().and_then(|f| f.submitter.clone()), None);
}

#[test]
fn an_entry_with_a_wrong_type_is_rejected_with_its_path_and_the_others_kept() {
    let text = std::str::from_utf8(MARCH_2024).expect("utf-8");
    let bad = text
        .replacen("\"upvotes\":63", "\"upvotes\":\"many\"", 1)
        .replacen("\"id\":\"2403.06764\"", "\"id\":\"2403.7918\"", 1);
    let parsed = parse_hf_daily(bad.as_bytes(), None);
    assert_eq!(parsed.fatal, None);
    assert_eq!(parsed.records.len(), 9);
    let errors: Vec<_> = parsed
        .records
        .iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].location, Location::Entry(0));
    assert_eq!(
        errors[0].reason,
        "paper.upvotes: invalid type: string \"many\", expected i64 (entry at line 1)"
    );
    assert!(
        errors[1]
            .reason
            .starts_with("paper.id: \"2403.7918\" is not an arXiv id"),
        "{}",
        errors[1]
    );
}

#[test]
fn missing_paper_non_string_title_and_empty_abstract_each_reject_one_entry() {
    let json = r#"[
  {"title": "no paper here"},
  {"paper": {"id": "2403.06634", "title": 42, "summary": "S"}},
  {"paper": {"id": "2403.06635", "title": "T", "summary": "  \n "}},
  7,
  {"paper": {"id": "2403.06636", "title": "Good", "summary": "Fine"}}
]"#;
    let parsed = parse_hf_daily(json.as_bytes(), None);
    assert_eq!(parsed.fatal, None);
    let reasons: Vec<String> = parsed
        .records
        .iter()
        .map(|r| match r {
            Ok(p) => format!("ok {}", p.id),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "entry 0: missing field `paper` (entry at line 2)",
            "entry 1: paper.title: invalid type: integer `42`, expected a string (entry at line 3)",
            "entry 2: paper.summary is empty (entry at line 4)",
            "entry 3: invalid type: integer `7`, expected struct HfEntry (entry at line 5)",
            "ok 2403.06636",
        ]
    );
}

#[test]
fn a_truncated_file_keeps_the_entries_before_the_cut() {
    let half = &AUG_2026[..AUG_2026.len() / 2];
    let parsed = parse_hf_daily(half, None);
    let kept = parsed.records.len();
    assert!((5..12).contains(&kept), "{kept}");
    assert!(parsed.records.iter().all(Result::is_ok));
    let fatal = parsed.fatal.expect("fatal");
    assert!(
        matches!(fatal.location, Location::Line(n) if n > 500),
        "{fatal}"
    );
    assert!(
        fatal
            .reason
            .starts_with("truncated or malformed JSON: EOF while parsing"),
        "{fatal}"
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let mut bytes = crate::detect::UTF8_BOM.to_vec();
    bytes.extend_from_slice(MARCH_2024);
    assert_eq!(ok(&parse_hf_daily(&bytes, None)).len(), 9);
}

#[test]
fn the_top_level_must_be_an_array_and_an_empty_array_is_fine() {
    let parsed = parse_hf_daily(b" [ ] \n", None);
    assert!(parsed.records.is_empty());
    assert_eq!(parsed.fatal, None);

    for (input, want) in [
        (&b""[..], "the file is empty"),
        (b"\n  ", "the file is empty"),
        (
            b"{\"paper\": {}}",
            "expected a JSON array of daily-paper entries, found an object",
        ),
        (b"\"x\"", "found a string"),
        (b"\x00\xff\xfe binary", "found something that is not JSON"),
        (
            b"[1, 2] trailing",
            "truncated or malformed JSON: trailing characters",
        ),
    ] {
        let parsed = parse_hf_daily(input, None);
        let fatal = parsed.fatal.unwrap_or_else(|| panic!("{input:?}"));
        assert!(fatal.reason.contains(want), "{input:?}: {fatal}");
    }
    // Invalid UTF-8 inside an entry costs that entry only.
    let parsed = parse_hf_daily(b"[{\"paper\": \"\xff\"}, 2]", None);
    assert_eq!(parsed.fatal, None);
    let reasons: Vec<String> = parsed
        .records
        .iter()
        .map(|r| {
            r.as_ref()
                .map_or_else(ToString::to_string, |p| p.id.to_string())
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "entry 0: malformed JSON: invalid unicode code point (entry at line 1)",
            "entry 1: invalid type: integer `2`, expected struct HfEntry (entry at line 1)"
        ]
    );
}

#[test]
fn a_flood_of_empty_entries_keeps_a_bounded_number_of_reasons_and_the_good_entry() {
    let good = r#"{"paper":{"id":"2403.06634","title":"T","summary":"S"}}"#;
    let mut json = "[".to_owned();
    json.push_str(&"{},".repeat(30_000));
    json.push_str(good);
    json.push(']');
    let parsed = parse_hf_daily(json.as_bytes(), None);
    assert_eq!(parsed.fatal, None);
    assert_eq!(parsed.records.len(), Parsed::MAX_KEPT_ERRORS + 1);
    assert_eq!(parsed.rejected(), 30_000);
    assert_eq!(
        parsed.rejected_not_kept,
        30_000 - Parsed::MAX_KEPT_ERRORS as u64
    );
    let last = parsed.records.last().and_then(|r| r.as_ref().ok());
    assert_eq!(last.map(|p| p.id.as_str()), Some("2403.06634"));
}

#[test]
fn an_entry_over_the_limit_is_skipped_unread_and_the_next_one_kept() {
    let good = |id: &str| format!(r#"{{"paper":{{"id":"{id}","title":"T","summary":"S"}}}}"#);
    let json = format!(
        "[{},\n{{\"paper\":{{\"summary\":\"{}\"}}}},\n{}]",
        good("2403.06634"),
        "x".repeat(5000),
        good("2403.06635")
    );
    let mut got = Vec::new();
    let mut sink = |r: crate::RecordResult| {
        got.push(r.map(|p| p.id.to_string()).map_err(|e| e.to_string()));
        ControlFlow::Continue(())
    };
    let reader = std::io::BufReader::with_capacity(64, json.as_bytes());
    let fatal = read_with_limit(reader, None, 1024, &mut sink);
    assert_eq!(fatal, None);
    assert_eq!(
            got,
            [
                Ok("2403.06634".to_owned()),
                Err("entry 1: the entry is 5024 bytes long, over the 1024 bytes limit; skipped (entry at line 2)".to_owned()),
                Ok("2403.06635".to_owned()),
            ]
        );
}

#[test]
fn broken_json_inside_an_entry_costs_only_that_entry() {
    let json = r#"[{"paper": {"id": "2403.06634" "title": "T"}},
{"paper":{"id":"2403.06635","title":"T","summary":"S"}}]"#;
    let parsed = parse_hf_daily(json.as_bytes(), None);
    assert_eq!(parsed.fatal, None);
    let first = parsed.records[0].as_ref().expect_err("broken");
    assert_eq!(
        first.to_string(),
        "entry 0: malformed JSON: expected `,` or `}` (entry at line 1)"
    );
    assert!(parsed.records[1].is_ok());
}
