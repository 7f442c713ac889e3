//! `paperfeed vectors export|import`: stored vectors to and from the file format of
//! [`npy`] (docs/vectors.md), so vectors computed elsewhere (a GPU machine running
//! sentence-transformers, or `scripts/make-scale-corpus`) load without embedding here.
//!
//! An import is checked before anything is written: the files' shapes and lengths, every id,
//! and (unless `--skip-check`) a sample of the vectors against our own encoder. It is then
//! written in one transaction, batch by batch as the file is read, so memory holds one batch
//! and a file that turns out bad half-way (a non-finite value) leaves the store as it was.

pub mod npy;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use paperfeed_app::indexing::Indexer;
use paperfeed_core::ArxivId;
use paperfeed_search::{Embedder, MODEL_NAME, dot};
use paperfeed_store::{Database, Store, VectorImport};
use tokio::sync::mpsc;

use crate::cli::{VectorsExportArgs, VectorsImportArgs};
use crate::settings::Settings;
use npy::{NpyReader, NpyWriter, ids_path};

/// Rows per store page on export and per batch on import.
const BATCH: usize = 1024;
/// Papers embedded again to check an import.
pub const SAMPLE: usize = 32;
/// How close a file's vector must be to ours for the same text.
pub const MIN_COSINE: f32 = 0.999;
/// Candidate rows looked up for the sample, spread evenly over the file.
const CANDIDATES: u64 = 1024;

/// `paperfeed vectors export FILE.npy`: every stored vector of the current texts, by id.
pub async fn export(settings: &Settings, args: &VectorsExportArgs) -> anyhow::Result<()> {
    let store = crate::database::open(settings).await?;
    let started = Instant::now();
    let ids_file = args.ids.clone().unwrap_or_else(|| ids_path(&args.file));
    let (npy_tmp, ids_tmp) = (partial(&args.file), partial(&ids_file));
    let mut vectors = NpyWriter::create(&npy_tmp)?;
    let mut ids = BufWriter::new(
        File::create(&ids_tmp).with_context(|| format!("creating {}", ids_tmp.display()))?,
    );
    let mut after = None;
    loop {
        let page = store
            .embeddings_page(MODEL_NAME, after.take(), BATCH)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for v in &page {
            vectors.write_row(&v.vector)?;
            writeln!(ids, "{}", v.id).with_context(|| format!("writing {}", ids_tmp.display()))?;
        }
    }
    let rows = vectors.finish()?;
    ids.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", ids_tmp.display()))?;
    // Both files complete before either takes its name.
    std::fs::rename(&ids_tmp, &ids_file)
        .with_context(|| format!("renaming {} to {}", ids_tmp.display(), ids_file.display()))?;
    std::fs::rename(&npy_tmp, &args.file)
        .with_context(|| format!("renaming {} to {}", npy_tmp.display(), args.file.display()))?;
    println!(
        "exported {rows} vectors ({MODEL_NAME}) to {} and their ids to {} in {:.1} s",
        args.file.display(),
        ids_file.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Reads the ids file: exactly `rows` ids, each a valid arXiv id; `Err` names the file and line.
fn read_ids(path: &Path, rows: u64) -> anyhow::Result<IdsFile> {
    let file = File::open(path)
        .with_context(|| format!("{}: cannot open the ids file", path.display()))?;
    let mut lines = 0u64;
    for line in BufReader::new(file).lines() {
        let line =
            line.with_context(|| format!("{}: reading line {}", path.display(), lines + 1))?;
        lines += 1;
        ArxivId::parse(line.trim())
            .map_err(|e| anyhow::anyhow!("{}: line {lines}: {e}", path.display()))?;
    }
    if lines != rows {
        bail!(
            "{}: {lines} ids for {rows} vectors: the ids file must have one id per row, in order",
            path.display()
        );
    }
    Ok(IdsFile {
        path: path.to_owned(),
    })
}

/// An ids file already checked by [`read_ids`].
struct IdsFile {
    path: PathBuf,
}

impl IdsFile {
    fn lines(&self) -> anyhow::Result<impl Iterator<Item = anyhow::Result<ArxivId>> + use<>> {
        let path = self.path.clone();
        let file = File::open(&path).with_context(|| format!("{}: cannot open", path.display()))?;
        Ok(BufReader::new(file).lines().map(move |line| {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            ArxivId::parse(line.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }))
    }
}

/// A vector as stored: finite and unit length; `Err` is the reason.
fn normalised(mut v: Vec<f32>) -> Result<Vec<f32>, String> {
    if let Some(x) = v.iter().find(|x| !x.is_finite()) {
        return Err(format!("holds {x}, not a finite number"));
    }
    let norm = dot(&v, &v).sqrt();
    if norm < 1e-6 {
        return Err("is all zeros".to_owned());
    }
    // Unit vectors (what sentence-transformers and our export write) are kept bit for bit.
    if (norm - 1.0).abs() > 1e-4 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    Ok(v)
}

/// `paperfeed vectors import FILE.npy`.
pub async fn import(settings: &Settings, args: &VectorsImportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut reader = NpyReader::open(&args.file)?;
    let rows = reader.rows();
    let ids = read_ids(
        &args.ids.clone().unwrap_or_else(|| ids_path(&args.file)),
        rows,
    )?;
    let store = crate::database::open(settings).await?;

    if args.skip_check {
        eprintln!(
            "WARNING: --skip-check: the vectors of {} are NOT compared with this hub's encoder. \
             Vectors from another model or of other texts will make semantic search and similar \
             papers wrong without any error. Use it only for synthetic vectors \
             (scripts/make-scale-corpus) or files you checked yourself.",
            args.file.display()
        );
    } else {
        check_sample(settings, &*store, &reader, &ids).await?;
    }

    let (tx, rx) = mpsc::channel(4);
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.import_embeddings(MODEL_NAME, rx).await })
    };
    // Read on this task; a read error drops `tx` without Commit, so the store keeps nothing.
    let file = args.file.clone();
    let fed = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut batch = Vec::with_capacity(BATCH);
        for (row, id) in ids.lines()?.enumerate() {
            let id = id?;
            let vector = reader
                .next_row()?
                .with_context(|| format!("{}: ended before row {row}", file.display()))?;
            let vector = normalised(vector).map_err(|why| {
                anyhow::anyhow!("{}: row {row} (paper {id}) {why}", file.display())
            })?;
            batch.push((id, vector));
            if batch.len() == BATCH
                && tx
                    .blocking_send(VectorImport::Batch(std::mem::take(&mut batch)))
                    .is_err()
            {
                bail!("the store stopped taking vectors");
            }
        }
        if tx.blocking_send(VectorImport::Batch(batch)).is_err()
            || tx.blocking_send(VectorImport::Commit).is_err()
        {
            bail!("the store stopped taking vectors");
        }
        Ok(())
    });
    let fed = fed.await.context("reading the vector file")?;
    let report = writer.await.context("writing the vectors")??;
    fed.context("nothing was imported")?;
    if !report.committed {
        bail!("the import was not committed; nothing was imported");
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "imported {} vectors ({MODEL_NAME}) from {} in {seconds:.1} s ({:.0} vectors/s){}",
        report.stored,
        args.file.display(),
        rows as f64 / seconds.max(1e-9),
        if args.skip_check {
            ", unchecked (--skip-check)"
        } else {
            ""
        }
    );
    if report.missing > 0 {
        let named: Vec<String> = report
            .first_missing
            .iter()
            .map(ToString::to_string)
            .collect();
        println!(
            "skipped {} ids the store has no paper for: {}{}",
            report.missing,
            named.join(", "),
            if report.missing > named.len() as u64 {
                ", …"
            } else {
                ""
            }
        );
    }
    index_imported(settings, store).await
}

/// Appends the imported vectors to this data directory's vector index, unless another process
/// (a running `serve`) writes it: that one appends them itself within a poll interval.
async fn index_imported(settings: &Settings, store: Arc<dyn Database>) -> anyhow::Result<()> {
    let started = Instant::now();
    let engine = Arc::new(crate::indexer::open_engine(settings).await?);
    if !engine.with_vectors(|v| v.is_writable()) {
        println!(
            "another paperfeed process (`serve`) writes the vector index: it appends them \
             within a poll interval"
        );
        return Ok(());
    }
    let indexer = Indexer {
        store: store as Arc<dyn Store>,
        engine,
        embed_batch: settings.search.embed_batch,
    };
    let appended = indexer.catch_up_vectors(&|_| {}).await?;
    println!(
        "indexed {appended} vectors for semantic search in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Embeds up to [`SAMPLE`] papers of the file that the store holds, spread over the file, and
/// refuses the file unless each of its vectors is within [`MIN_COSINE`] of ours.
async fn check_sample(
    settings: &Settings,
    store: &dyn Database,
    reader: &NpyReader,
    ids: &IdsFile,
) -> anyhow::Result<()> {
    let embedder = crate::model::ensure(settings, &crate::settings::HfHub::from_env())
        .await
        .map_err(anyhow::Error::msg)
        .and_then(|dir| Embedder::load(&dir).map_err(anyhow::Error::from))
        .context(
            "checking the vectors needs the model (`paperfeed model fetch`; --model-dir); \
             --skip-check imports without the check",
        )?;
    let rows = reader.rows();
    let stride = (rows / CANDIDATES).max(1);
    let mut candidates: Vec<(u64, ArxivId)> = Vec::new();
    for (row, id) in ids.lines()?.enumerate() {
        let row = row as u64;
        if row.is_multiple_of(stride) {
            candidates.push((row, id?));
        }
    }
    let mut sample = Vec::new();
    for chunk in candidates.chunks(256) {
        let asked: Vec<ArxivId> = chunk.iter().map(|(_, id)| id.clone()).collect();
        let found: HashMap<ArxivId, _> = store
            .get_papers(&asked)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        for (row, id) in chunk {
            if let Some(paper) = found.get(id) {
                sample.push((*row, paper.clone()));
            }
        }
    }
    // Evenly over what was found.
    let step = (sample.len() / SAMPLE).max(1);
    let sample: Vec<_> = sample.into_iter().step_by(step).take(SAMPLE).collect();
    if sample.is_empty() {
        eprintln!("note: none of the sampled ids is in the store; nothing to check against");
        return Ok(());
    }
    let texts: Vec<String> = sample.iter().map(|(_, p)| p.embedding_text()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ours = tokio::task::block_in_place(|| embedder.embed(&refs))
        .context("embedding the sample for the check")?;
    let mut failed = Vec::new();
    for ((row, paper), our) in sample.iter().zip(&ours) {
        let theirs = normalised(reader.row_at(*row)?).map_err(|why| {
            anyhow::anyhow!(
                "{}: row {row} (paper {}) {why}",
                reader_path(reader),
                paper.id
            )
        })?;
        let cosine = dot(&theirs, our);
        if cosine.is_nan() || cosine < MIN_COSINE {
            failed.push(format!("{} (row {row}, cosine {cosine:.4})", paper.id));
        }
    }
    if !failed.is_empty() {
        bail!(
            "{}: refused, nothing imported: {} of {} sampled papers have vectors unlike this \
             hub's encoder ({MODEL_NAME}; each needs cosine >= {MIN_COSINE} with the vector we \
             compute for the paper's title and abstract): {}. Were they made by another model, \
             or from other texts, or is the ids file out of order?",
            reader_path(reader),
            failed.len(),
            sample.len(),
            failed.join(", ")
        );
    }
    println!(
        "checked {} sampled papers against the encoder: all within cosine {MIN_COSINE}",
        sample.len()
    );
    Ok(())
}

fn reader_path(reader: &NpyReader) -> String {
    reader.path().display().to_string()
}
