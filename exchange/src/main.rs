//! `exchange`: the one binary operators run: the node (`run`, `demo`), API keys, the offline
//! replay, and the journal tools.

mod config;
mod demo;
mod journal_tools;
mod payload;
mod serve;
mod settle;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "exchange", version, about = "A crypto spot exchange core")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the node's configuration comes from.
#[derive(Debug, Args)]
struct NodeArgs {
    /// TOML configuration file (built-in defaults when absent: BTCUSDT, ETHUSDT, ETHBTC and
    /// funded demo accounts 1001-1016).
    #[arg(long, env = "EXCHANGE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for journals, snapshots and API keys (overrides the file).
    #[arg(long, env = "EXCHANGE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Listen address of the WebSocket API and /metrics (overrides the file).
    #[arg(long, env = "EXCHANGE_LISTEN")]
    listen: Option<SocketAddr>,
}

impl NodeArgs {
    fn load(&self) -> anyhow::Result<config::Config> {
        let mut c = config::Config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(l) = self.listen {
            c.listen = l;
        }
        Ok(c)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the exchange: matcher, journals and the WebSocket API, until SIGTERM or Ctrl-C.
    Run(NodeArgs),
    /// Run the exchange with simulated market makers and takers trading over real WebSocket
    /// connections, printing a live summary once per second until Ctrl-C.
    Demo {
        #[command(flatten)]
        node: NodeArgs,
        /// Simulated traders (each with its own connection and demo account).
        #[arg(long, default_value_t = 8)]
        traders: usize,
        /// Target orders per second across all traders.
        #[arg(long, default_value_t = 2000)]
        rate: u64,
    },
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Replay the commands journal of a stopped node from its first command and print the
    /// state hash; compares every event with the events journal (exit 1 on a difference).
    Replay {
        /// The node's data directory.
        #[arg(long, env = "EXCHANGE_DATA_DIR", default_value = "exchange-data")]
        data_dir: PathBuf,
    },
    /// Inspect and check a journal directory (read-only).
    #[command(subcommand)]
    Journal(journal_tools::JournalCommand),
    /// Follow the events journal into Postgres (settlement as a process of its own) until
    /// SIGTERM or Ctrl-C.
    Settlement(settle::DbArgs),
    /// Read settled data from Postgres.
    #[command(subcommand)]
    Clearing(settle::ClearingCommand),
    /// Compare Postgres balances at the settled event with the matcher's state at that event
    /// (replayed from the commands journal); prints every difference, exit 1 if any.
    Reconcile(settle::DbArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Issue an API key and secret for an account (printed once; the secret is stored in the
    /// data directory's api_keys.json, mode 0600).
    Create {
        /// The account the key trades for.
        #[arg(long)]
        account: u64,
        /// The node's data directory.
        #[arg(long, env = "EXCHANGE_DATA_DIR", default_value = "exchange-data")]
        data_dir: PathBuf,
    },
}

fn keys_create(account: u64, data_dir: PathBuf) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut store = gateway::keys::KeyStore::open(&data_dir)?;
    let key = store.create_key(matcher::AccountId(account))?;
    println!("account {account}");
    println!("apiKey    {}", key.api_key);
    println!("secretKey {}", key.secret.expose());
    Ok(ExitCode::SUCCESS)
}

fn replay(data_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let r = node::replay::replay(&data_dir, true)
        .with_context(|| format!("replaying {}", data_dir.display()))?;
    println!("commands replayed   {}", r.commands);
    println!("last command        {}", r.last_cmd_seq);
    println!("last event          {}", r.last_event_seq);
    println!("events compared     {}", r.events_compared);
    println!("state hash          {}", r.state_hash);
    match r.first_event_mismatch {
        None => Ok(ExitCode::SUCCESS),
        Some(seq) => {
            println!("FIRST MISMATCH      event {seq} differs from the events journal");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// mimalloc: the request path allocates small JSON values per request; glibc's malloc spent
/// about a fifth of the WebSocket workers' time at 30k requests/s (perf, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => args.load().and_then(serve::run).map(|()| ExitCode::SUCCESS),
        Command::Demo {
            node,
            traders,
            rate,
        } => node
            .load()
            .and_then(|c| demo::run(c, traders, rate))
            .map(|()| ExitCode::SUCCESS),
        Command::Keys(KeysCommand::Create { account, data_dir }) => keys_create(account, data_dir),
        Command::Replay { data_dir } => replay(data_dir),
        Command::Journal(cmd) => journal_tools::run(cmd),
        Command::Settlement(args) => settle::follow(args),
        Command::Clearing(cmd) => settle::clearing(cmd),
        Command::Reconcile(args) => settle::reconcile(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
