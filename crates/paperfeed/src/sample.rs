//! The bundled sample: 20 real Hugging Face Daily Papers days (see `sample/SOURCES.md`),
//! embedded in the binary so the first `paperfeed serve` shows real papers anywhere.

use crate::ingest::Source;

/// (file name, content) of every sample day, oldest first.
const DAYS: &[(&str, &[u8])] = &[
    (
        "2026-07-02.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-02.json"),
    ),
    (
        "2026-07-07.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-07.json"),
    ),
    (
        "2026-07-08.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-08.json"),
    ),
    (
        "2026-07-10.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-10.json"),
    ),
    (
        "2026-07-13.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-13.json"),
    ),
    (
        "2026-07-16.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-16.json"),
    ),
    (
        "2026-07-20.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-20.json"),
    ),
    (
        "2026-07-21.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-21.json"),
    ),
    (
        "2026-07-23.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-23.json"),
    ),
    (
        "2026-07-28.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-28.json"),
    ),
    (
        "2026-07-29.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-29.json"),
    ),
    (
        "2026-07-31.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-07-31.json"),
    ),
    (
        "2026-08-03.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-03.json"),
    ),
    (
        "2026-08-06.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-06.json"),
    ),
    (
        "2026-08-10.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-10.json"),
    ),
    (
        "2026-08-11.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-11.json"),
    ),
    (
        "2026-08-13.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-13.json"),
    ),
    (
        "2026-08-18.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-18.json"),
    ),
    (
        "2026-08-19.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-19.json"),
    ),
    (
        "2026-08-21.json",
        include_bytes!("../../../sample/hf_daily_papers/2026-08-21.json"),
    ),
];

pub fn sources() -> Vec<Source> {
    DAYS.iter()
        .map(|(name, bytes)| Source::Embedded {
            name: format!("sample/hf_daily_papers/{name}"),
            bytes,
        })
        .collect()
}
