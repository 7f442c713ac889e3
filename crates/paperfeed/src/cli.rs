//! The command line: one subcommand per pipeline stage.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
pub use paperfeed_app::harvest::SourceKind;
use paperfeed_core::Frequency;

#[derive(Debug, Parser)]
#[command(
    name = "paperfeed",
    version,
    about = "A self-hosted Daily Papers hub: gathers arXiv and Hugging Face papers, shows a daily feed.",
    long_about = "A self-hosted Daily Papers hub: gathers papers (Hugging Face daily_papers JSON, \
                  Kaggle arXiv JSON Lines, arXiv API Atom, OAI-PMH), stores them in an embedded \
                  SQLite database and serves a daily / weekly / monthly feed with paper pages.\n\n\
                  Configuration is layered: built-in defaults, then the config file, then \
                  environment variables, then command-line flags. Every setting is a variable: \
                  PAPERFEED_ and its key in capitals, with __ between a section and its key \
                  (serve.bind is PAPERFEED_SERVE__BIND). `paperfeed config` prints the result."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory holding the store and index files [default: ./paperfeed-data]
    /// [env: PAPERFEED_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file [default: ./paperfeed.toml when it exists] [env: PAPERFEED_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder with the embedding model files (config.json, tokenizer.json, model.safetensors)
    /// [env: PAPERFEED_SEARCH__MODEL_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Log line format on stderr [env: PAPERFEED_LOG_FORMAT]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// SMTP server for mail: smtp://host:port, smtp+starttls://user:pass@host:port or
    /// smtps://user:pass@host:port [env: PAPERFEED_MAIL__SMTP_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub smtp_url: Option<String>,
    /// Where the store lives: sqlite://PATH, or postgres://user@host:5432/database for several
    /// nodes sharing one PostgreSQL database [default: sqlite://<data-dir>/paperfeed.sqlite3]
    /// [env: PAPERFEED_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line, for log collectors
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the hub over HTTP. On first start with an empty store it loads the bundled sample
    /// of real Daily Papers days so there is something to browse.
    Serve(ServeArgs),
    /// Ingest files or folders of papers, or fetch them from a live source (--source). The
    /// format of each file is detected from its content (Hugging Face daily_papers JSON, Kaggle
    /// arXiv JSON Lines, arXiv API Atom, OAI-PMH ListRecords). Re-ingesting changes nothing;
    /// bad records are reported with file (or URL) and line/entry and the rest still goes in.
    /// A live harvest stores each page with its position, so a harvest cut short resumes where
    /// it stopped. Exits non-zero when any record, file or page was rejected.
    Ingest(IngestArgs),
    /// Print the effective configuration (defaults, config file, environment and flags
    /// merged) as TOML, with secrets masked.
    Config,
    /// Rebuild the search index from the store (with a progress bar) and compute every missing
    /// embedding before exiting.
    Reindex,
    /// Search the papers from the command line: keyword, semantic or hybrid (default).
    Search(SearchArgs),
    /// A reader's "for you" picks, each with why (as on their /for-you page).
    Recommend(RecommendArgs),
    /// Measure search relevance on the papers in the store: for every paper with an AI summary
    /// (HF daily-papers data), query = that summary, target = that paper; prints MRR@10 and
    /// recall@10 for keyword, semantic and hybrid search.
    Eval(EvalArgs),
    /// Manage digest subscribers (operators importing a list they own).
    #[command(subcommand)]
    Subscriber(SubscriberCommand),
    /// Email digests of trending papers.
    #[command(subcommand)]
    Digest(DigestCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Copy everything from one store to another (sqlite://PATH to postgres://…, or back):
    /// papers, vectors, accounts, votes, comments, harvest positions, subscribers and digests,
    /// with their ids. Idempotent: a second run copies nothing new. Stop every node writing to
    /// either store first.
    Migrate(MigrateArgs),
    /// Write a consistent snapshot of the store to FILE, while `serve` keeps running (SQLite's
    /// online backup API, a few pages at a time). The mail signing key, when kept in the data
    /// directory, is copied beside it as FILE.mail-signing.key. PostgreSQL: use pg_dump.
    Backup(BackupArgs),
    /// Bring a backup made by `paperfeed backup` back into an empty data directory. The file is
    /// checked first (a paperfeed store, SQLite's integrity check); the search index is rebuilt
    /// from it at the next start.
    Restore(RestoreArgs),
    /// Move stored vectors in and out as a NumPy .npy file (float32, [N, 384]) with an ids file
    /// beside it (FILE.ids, one arXiv id per line): see docs/vectors.md.
    #[command(subcommand)]
    Vectors(VectorsCommand),
    /// Make the thumbnails cards show: the first page of each paper's PDF, rendered here (in
    /// pure Rust) and kept in the store. Nothing is fetched unless asked: PDFs come from a
    /// folder (--from-dir, files named like 2608.19880.pdf) and/or from arXiv (--fetch, one at
    /// a time with the arXiv source's politeness gap). Without ids, the latest featured papers
    /// that have none yet. A paper whose PDF fails is remembered and skipped next time.
    Thumbnails(ThumbnailsArgs),
    /// The semantic-search model (sentence-transformers/all-MiniLM-L6-v2).
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Make sure the model is here, ahead of its first use: when it is found nowhere
    /// (--model-dir, <data-dir>/models/all-MiniLM-L6-v2, the Hugging Face cache), fetch a
    /// pinned revision from the Hugging Face Hub (HF_ENDPOINT, default https://huggingface.co)
    /// into the Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else
    /// ~/.cache/huggingface/hub), every file checked against its known SHA-256, with a
    /// progress bar. Then load it once and print its folder. With HF_HUB_OFFLINE=1, only look.
    Fetch,
}

#[derive(Debug, Subcommand)]
pub enum VectorsCommand {
    /// Write every stored vector (all-MiniLM-L6-v2, of each paper's current text) to FILE and
    /// their ids to FILE.ids, in id order. Both files appear complete or not at all.
    Export(VectorsExportArgs),
    /// Store the vectors of FILE for the papers named in FILE.ids. The files are checked first
    /// (dtype, shape, length, one valid id per row) and a sample of 32 papers the store holds is
    /// embedded again: every vector must be within cosine 0.999 of ours, or the file is refused.
    /// Ids the store lacks are skipped and reported. All or nothing: one transaction.
    Import(VectorsImportArgs),
}

#[derive(Debug, Args)]
pub struct VectorsExportArgs {
    /// The .npy file to write
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The ids file to write [default: FILE with the extension .ids]
    #[arg(long, value_name = "IDS")]
    pub ids: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VectorsImportArgs {
    /// The .npy file to read (float32 little-endian, C order, shape [N, 384])
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The ids file, one arXiv id per line, row i of FILE on line i+1 [default: FILE with the
    /// extension .ids]
    #[arg(long, value_name = "IDS")]
    pub ids: Option<PathBuf>,
    /// Do not compare a sample with this hub's encoder (loudly warned): only for synthetic
    /// vectors (scripts/make-scale-corpus) or files checked otherwise
    #[arg(long)]
    pub skip_check: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store to copy from: sqlite://PATH or postgres://…
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The store to copy into (created and migrated if needed)
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Rows per transaction
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch_size: usize,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the snapshot (a single SQLite file)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A snapshot written by `paperfeed backup`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace the store of a data directory that is not empty (stop `serve` first)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum SubscriberCommand {
    /// Add a subscriber, or update the preferences of an existing one.
    Add(SubscriberAddArgs),
    /// Add every address of a file (one per line; blank lines and # comments skipped) with the
    /// same options as `add`. Bad lines are reported with their line number; the rest go in.
    Import(SubscriberImportArgs),
}

#[derive(Debug, Args)]
pub struct SubscriberImportArgs {
    /// The file of addresses
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Skip the double opt-in: only for addresses whose owners asked you directly
    #[arg(long)]
    pub confirmed: bool,
    /// How often to mail
    #[arg(long, value_parser = frequency_parser(), default_value = "daily")]
    pub frequency: Frequency,
    /// Papers per digest
    #[arg(long, default_value_t = 10)]
    pub papers: u32,
}

#[derive(Debug, Args)]
pub struct SubscriberAddArgs {
    /// The address to mail
    #[arg(value_name = "EMAIL")]
    pub email: String,
    /// Skip the double opt-in: only for addresses whose owners asked you directly
    #[arg(long)]
    pub confirmed: bool,
    /// How often to mail
    #[arg(long, value_parser = frequency_parser(), default_value = "daily")]
    pub frequency: Frequency,
    /// Only papers matching this query (repeatable; any topic matches)
    #[arg(long = "topic", value_name = "QUERY")]
    pub topics: Vec<String>,
    /// Papers per digest
    #[arg(long, default_value_t = 10)]
    pub papers: u32,
}

/// `daily` or `weekly`, read as core's [`Frequency`], each value explained in `--help`.
fn frequency_parser() -> impl TypedValueParser<Value = Frequency> {
    let values = Frequency::ALL.map(|frequency| {
        PossibleValue::new(frequency.as_str()).help(match frequency {
            Frequency::Daily => "Weekdays, like Hugging Face's daily mail",
            Frequency::Weekly => "Mondays, covering the week before",
        })
    });
    PossibleValuesParser::new(values).try_map(|name| name.parse::<Frequency>())
}

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Mail every confirmed subscriber of this period its digest, exactly once: rerunning, or
    /// running again after a crash, sends only what is still missing.
    Run(DigestRunArgs),
}

#[derive(Debug, Args)]
pub struct DigestRunArgs {
    /// Which subscribers: daily or weekly
    #[arg(long, value_parser = frequency_parser(), default_value = "daily")]
    pub period: Frequency,
    /// The day the digest is for [default: today, UTC]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<chrono::NaiveDate>,
    /// Say what would be sent; queue and send nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (one line).
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The user name (letters, digits, - and _)
    pub name: String,
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (required: passwords never go on the command line)
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Make the user a moderator (can hide any comment)
    #[arg(long)]
    pub admin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for user NAME and print it (only its hash is stored).
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The user the token acts as
    pub name: String,
    /// A label for the token, shown in account settings
    #[arg(long, default_value = "cli")]
    pub label: String,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query, with the same syntax as the search box (author:, category:, "phrases" …)
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// keyword, semantic or hybrid
    #[arg(long, default_value = "hybrid")]
    pub mode: String,
    /// How many results
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Print JSON instead of lines
    #[arg(long)]
    pub json: bool,
    /// Search exactly the query given, even when nothing matches it and a spelling correction
    /// would (the correction is still offered)
    #[arg(long)]
    pub verbatim: bool,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// The reader's user name
    #[arg(value_name = "USER")]
    pub user: String,
    /// How many picks (1 to 100)
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of lines
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Evaluate at most this many queries (all when unset)
    #[arg(long)]
    pub max_queries: Option<usize>,
    /// Evaluate recommendations instead of search: simulated readers from the stored papers
    /// (HF submitters, AI-keyword clusters), this recommender beside arxiv-sanity-lite's SVM,
    /// popularity and random
    #[arg(long)]
    pub recommend: bool,
    /// With --recommend: the Python that runs the SVM baseline (needs scikit-learn;
    /// scripts/eval-recommend installs it) [default: python3]
    #[arg(long, value_name = "PATH", requires = "recommend")]
    pub python: Option<std::path::PathBuf>,
    /// With --recommend: also print each reader's recall@20 per method
    #[arg(long, requires = "recommend")]
    pub per_reader: bool,
    /// Hugging Face daily files or folders to take the search queries from: (P) each paper's
    /// AI summary, (K) three of its AI keywords; the papers are expected in the store,
    /// ingested with `ingest --without-ai` [default: the stored papers' AI summaries]
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with = "recommend")]
    pub queries_from: Vec<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080] [env: PAPERFEED_SERVE__BIND]
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<SocketAddr>,
    /// Do not load the bundled sample into an empty store
    #[arg(long)]
    pub no_sample: bool,
    /// Serve /metrics on this address only (not on --bind) [env: PAPERFEED_SERVE__METRICS_BIND]
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_bind: Option<SocketAddr>,
}

/// `arxiv`, `oai` or `hf`, read as the application's [`SourceKind`], each value explained in
/// `--help`.
fn source_parser() -> impl TypedValueParser<Value = SourceKind> {
    let values = SourceKind::ALL.map(|kind| {
        PossibleValue::new(kind.name()).help(match kind {
            SourceKind::Arxiv => {
                "The arXiv API: look-ups by id (--id) or a search listing (--query)"
            }
            SourceKind::Oai => "OAI-PMH ListRecords harvesting (metadataPrefix=arXiv), resumable",
            SourceKind::Hf => "The Hugging Face daily feed, one day per request",
        })
    });
    PossibleValuesParser::new(values).try_map(|name| {
        SourceKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| format!("{name:?} is not a source: expected arxiv, oai or hf"))
    })
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or folders (searched recursively) to ingest
    #[arg(
        required_unless_present = "source",
        conflicts_with = "source",
        value_name = "PATH"
    )]
    pub paths: Vec<PathBuf>,
    /// Fetch from a live source instead of files
    #[arg(long, value_parser = source_parser())]
    pub source: Option<SourceKind>,
    /// The source's base URL [default: sources.<source>.base_url]
    #[arg(long, requires = "source", value_name = "URL")]
    pub base_url: Option<String>,
    /// oai: the set to harvest [default: sources.oai.set]
    #[arg(long, requires = "source", value_name = "SET")]
    pub set: Option<String>,
    /// oai, hf: the first day [default: where the last harvest ended]
    #[arg(long, requires = "source", value_name = "YYYY-MM-DD")]
    pub from: Option<chrono::NaiveDate>,
    /// oai, hf: the last day [default: today]
    #[arg(long, requires = "source", value_name = "YYYY-MM-DD")]
    pub until: Option<chrono::NaiveDate>,
    /// arxiv: the search_query to list [default: sources.arxiv.query]
    #[arg(long, requires = "source", value_name = "Q")]
    pub query: Option<String>,
    /// arxiv: look these papers up by id instead of listing
    #[arg(long, requires = "source", num_args = 1.., value_name = "ID")]
    pub id: Vec<String>,
    /// Force the input format instead of detecting it: hf, kaggle, atom or oai
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<paperfeed_ingest::Format>,
    /// Parse and merge everything, report what would change, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Papers per store transaction
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Store every paper without its AI summary and AI keywords, so that only its own title,
    /// abstract and authors can be found (what `eval --queries-from` measures search on)
    #[arg(long)]
    pub without_ai: bool,
}

#[derive(Debug, Args)]
pub struct ThumbnailsArgs {
    /// These papers (arXiv ids) instead of the latest featured ones without a thumbnail
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
    /// Read PDFs from this folder (2608.19880.pdf; old-style ids with `_` for `/`)
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<PathBuf>,
    /// Fetch PDFs from arXiv (after the folder, when both are given)
    #[arg(long)]
    pub fetch: bool,
    /// Where --fetch gets PDFs: SITE/pdf/ID
    #[arg(long, value_name = "URL", default_value = "https://arxiv.org")]
    pub pdf_base_url: String,
    /// At most this many papers when no ids are given
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Also try papers whose PDF failed before
    #[arg(long)]
    pub retry_failed: bool,
    /// Longest one page may take to render, in seconds
    #[arg(long, default_value_t = 30)]
    pub render_seconds: u64,
}
