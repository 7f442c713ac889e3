//! The `paperfeed` binary: parses the command line, loads the layered settings, sets up
//! logging and runs one pipeline stage. The only crate that reads the environment or files
//! for configuration.

mod accounts;
mod backup;
mod cli;
mod database;
mod digest;
mod harvest;
mod indexer;
mod ingest;
mod migrate;
mod model;
mod recommend_cmd;
mod recommend_eval;
mod sample;
mod search_cmd;
mod search_eval;
mod serve;
mod settings;
mod shutdown;
mod thumbnails;
mod vectors;

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser as _;
use paperfeed_store::{Store, WriteMode};
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, DigestCommand, LogFormat, SubscriberCommand};
use crate::settings::{Loaded, Origin, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Loaded { settings, origin } = match Settings::load(&cli) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("paperfeed: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);
    origin.warn_deprecated();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("paperfeed: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli, settings, origin));
    // A shutdown that reached its deadline may leave blocking work behind (an embedding
    // batch, a store write whose transaction then never commits): it must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("paperfeed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `paperfeed ingest --source …`: one harvest, its summary, and an exit code.
async fn ingest_source(
    store: Arc<dyn Store>,
    settings: &Settings,
    kind: cli::SourceKind,
    args: &cli::IngestArgs,
) -> anyhow::Result<ExitCode> {
    let ids = args
        .id
        .iter()
        .map(|id| {
            paperfeed_core::ArxivId::parse(id).map_err(|e| anyhow::anyhow!("--id {id:?}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = harvest::HarvestRequest {
        set: args.set.clone(),
        from: args.from,
        until: args.until,
        query: args.query.clone(),
        ids,
    };
    let mode = if args.dry_run {
        WriteMode::DryRun
    } else {
        WriteMode::Commit
    };
    let started = std::time::Instant::now();
    let summary = harvest::harvest(store, settings, kind, &request, mode).await?;
    println!(
        "{}ingested {summary} from {} in {:.2} s",
        if args.dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        kind.name(),
        started.elapsed().as_secs_f64()
    );
    if let Some(reason) = &summary.failure {
        eprintln!(
            "error: stopped at a page that failed: {reason}\n(everything before it is stored; \
             run the same command again to resume)"
        );
    }
    Ok(if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(cli: Cli, settings: Settings, origin: Origin) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(_) => {
            serve::run(&settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest(args) => {
            let store: Arc<dyn Store> = database::open(&settings).await?;
            if let Some(kind) = args.source {
                return ingest_source(store, &settings, kind, &args).await;
            }
            let sources = ingest::expand_paths(&args.paths)?;
            let options = ingest::IngestOptions {
                format: args.format,
                mode: if args.dry_run {
                    WriteMode::DryRun
                } else {
                    WriteMode::Commit
                },
                batch_size: settings.ingest.batch_size,
                show_progress: std::io::stderr().is_terminal(),
                without_ai: args.without_ai,
            };
            let started = std::time::Instant::now();
            let summary = ingest::ingest(store, sources, &options).await?;
            println!(
                "{}ingested {summary} in {:.2} s",
                if args.dry_run {
                    "dry run, nothing written: "
                } else {
                    ""
                },
                started.elapsed().as_secs_f64()
            );
            Ok(if summary.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Reindex => {
            search_cmd::reindex(&settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search(args) => {
            search_cmd::search(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Recommend(args) => {
            recommend_cmd::recommend(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(args) if args.recommend => {
            recommend_eval::eval_recommend(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(args) => {
            search_eval::eval(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Subscriber(SubscriberCommand::Add(args)) => {
            digest::add_subscriber(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Subscriber(SubscriberCommand::Import(args)) => {
            Ok(if digest::import_subscribers(&settings, &args).await? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Digest(DigestCommand::Run(args)) => {
            digest::run(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User(cli::UserCommand::Add(args)) => {
            accounts::add_user(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(cli::TokenCommand::Create(args)) => {
            accounts::create_token(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(args) => {
            migrate::run(&args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(args) => {
            backup::backup(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore(args) => {
            backup::restore(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Thumbnails(args) => Ok(if thumbnails::thumbnails(&settings, &args).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Vectors(cli::VectorsCommand::Export(args)) => {
            vectors::export(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Vectors(cli::VectorsCommand::Import(args)) => {
            vectors::import(&settings, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Model(cli::ModelCommand::Fetch) => {
            let dir = model::ensure(&settings, &settings::HfHub::from_env())
                .await
                .map_err(anyhow::Error::msg)?;
            // Found or fetched, it must also load: a folder with the right names but broken
            // files is reported here rather than at the next start.
            paperfeed_search::Embedder::load(&dir)
                .with_context(|| format!("loading the model in {}", dir.display()))?;
            println!("model ready: {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config => {
            println!("{}", settings::render(&settings, &origin)?.trim_end());
            Ok(ExitCode::SUCCESS)
        }
    }
}
