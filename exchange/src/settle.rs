//! Settlement wiring: where the database is (`DATABASE_URL`, or the embedded private cluster
//! in `<data_dir>/pg`), settlement inside `exchange run` / `demo`, the operator commands
//! `exchange settlement`, `exchange clearing trades` and `exchange reconcile`, and the HTTP
//! routes `GET /api/v3/myTrades` and `GET /metrics/settlement`.

use crate::config::Config;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use matcher::AccountId;
use settlement::{Metrics, SettlementConfig, SettlementHandle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The database the embedded cluster serves.
const EMBEDDED_DB: &str = "exchange";

/// Where settled data lives.
#[derive(Debug)]
pub struct Database {
    /// tokio-postgres connection string.
    pub url: String,
    /// The embedded cluster, when this process started (or adopted) it: stopped on drop.
    _cluster: Option<pgcluster::Cluster>,
}

impl Database {
    /// `url` when given; otherwise the embedded cluster in `<data_dir>/pg` (started, or
    /// attached to when it already runs; `adopt` makes this process stop a cluster that a
    /// crashed run left behind).
    pub fn open(data_dir: &Path, url: Option<String>, adopt: bool) -> Result<Database> {
        if let Some(url) = url {
            return Ok(Database {
                url,
                _cluster: None,
            });
        }
        let mut cluster = pgcluster::Cluster::start(data_dir.join("pg")).with_context(|| {
            format!(
                "starting the embedded Postgres in {} (or give --database-url / DATABASE_URL)",
                data_dir.join("pg").display()
            )
        })?;
        if adopt {
            cluster.adopt();
        }
        let exists = cluster
            .psql(
                "postgres",
                &format!("SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DB}'"),
            )
            .context("querying the embedded Postgres")?;
        if exists.trim().is_empty() {
            cluster
                .psql("postgres", &format!("CREATE DATABASE {EMBEDDED_DB}"))
                .context("creating the settlement database")?;
        }
        Ok(Database {
            url: cluster.connection_string(EMBEDDED_DB),
            _cluster: Some(cluster),
        })
    }
}

/// The fee account settlement starts from: the node's recorded genesis when there is one.
fn genesis_fee_account(data_dir: &Path, fallback: u64) -> Result<AccountId> {
    if data_dir.join(settlement::reconcile::GENESIS_FILE).is_file() {
        Ok(settlement::reconcile::read_genesis(data_dir)?.fee_account)
    } else {
        Ok(AccountId(fallback))
    }
}

/// What `/api/v3/myTrades` and `/metrics/settlement` read.
struct Shared {
    url: String,
    metrics: Arc<Metrics>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The database settlement writes to in this process (when it runs), for the other
/// Postgres consumers (the kline writer).
pub fn database_url() -> Option<String> {
    SHARED.get().map(|s| s.url.clone())
}

/// Settlement running inside `exchange run` / `demo`.
#[derive(Debug)]
pub struct InProcess {
    handle: SettlementHandle,
    events_dir: PathBuf,
    _db: Database,
}

/// Starts settlement in this process after the node (so the events journal exists), unless
/// `EXCHANGE_SETTLEMENT=off`. With no `DATABASE_URL` it uses the embedded cluster; when that
/// cannot start (binaries missing, directory unreachable) it says why and the exchange runs
/// without settlement (settlement never holds the matcher up).
pub fn start_in_process(config: &Config) -> Result<Option<InProcess>> {
    if std::env::var("EXCHANGE_SETTLEMENT").is_ok_and(|v| v == "off") {
        tracing::info!("settlement off (EXCHANGE_SETTLEMENT=off)");
        return Ok(None);
    }
    let url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let db = match Database::open(&config.data_dir, url, true) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("warning: settlement disabled: {e:#}");
            tracing::warn!(error = %format!("{e:#}"), "settlement disabled");
            return Ok(None);
        }
    };
    let events_dir = config.data_dir.join("events");
    let mut sc = SettlementConfig::new(&events_dir, db.url.clone());
    sc.genesis_fee_account = genesis_fee_account(&config.data_dir, config.engine.fee_account)?;
    let handle = SettlementHandle::spawn(sc)?;
    let _ = SHARED.set(Shared {
        url: db.url.clone(),
        metrics: handle.metrics(),
    });
    tracing::info!("settlement follows {} into Postgres", events_dir.display());
    Ok(Some(InProcess {
        handle,
        events_dir,
        _db: db,
    }))
}

/// Lets settlement catch up with the events journal (while it makes progress, at most 10 s),
/// then stops it and the embedded cluster.
pub fn stop_in_process(s: Option<InProcess>) {
    let Some(s) = s else { return };
    let metrics = s.handle.metrics();
    let head = journal::durable_file::read(&s.events_dir)
        .ok()
        .flatten()
        .unwrap_or(0);
    // Wait while it makes progress (not for a database that is down), at most 10 s.
    let start = Instant::now();
    let applied = || {
        metrics
            .applied_seq
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let (mut last, mut last_change) = (applied(), Instant::now());
    while applied() < head
        && start.elapsed() < Duration::from_secs(10)
        && last_change.elapsed() < Duration::from_secs(2)
        && !s.handle.is_finished()
    {
        std::thread::sleep(Duration::from_millis(20));
        if applied() != last {
            (last, last_change) = (applied(), Instant::now());
        }
    }
    match s.handle.stop() {
        Ok(r) => println!("settlement: settled up to event {}", r.applied_seq),
        Err(e) => eprintln!("settlement stopped with an error: {e}"),
    }
}

/// Where the data directory and database are, for the operator commands.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The node's data directory.
    #[arg(long, env = "EXCHANGE_DATA_DIR", default_value = "exchange-data")]
    pub data_dir: PathBuf,
    /// Postgres connection string (default: the embedded cluster in <data-dir>/pg).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

/// `exchange clearing ...`.
#[derive(Debug, Subcommand)]
pub enum ClearingCommand {
    /// An account's settled trades in a time range, as CSV (default) or JSON (Binance's
    /// myTrades shape).
    Trades {
        #[command(flatten)]
        db: DbArgs,
        /// The account.
        #[arg(long)]
        account: u64,
        /// From this time (milliseconds since the Unix epoch), inclusive.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// To this time (milliseconds since the Unix epoch), inclusive.
        #[arg(long, default_value_t = i64::MAX as u64)]
        to: u64,
        /// Only this symbol.
        #[arg(long)]
        symbol: Option<String>,
        /// Most rows.
        #[arg(long, default_value_t = 100_000)]
        limit: u32,
        /// Print JSON instead of CSV.
        #[arg(long)]
        json: bool,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// `exchange settlement`: follows the events journal until SIGTERM or Ctrl-C.
pub fn follow(args: DbArgs) -> Result<ExitCode> {
    let db = Database::open(&args.data_dir, args.database_url, false)?;
    let mut sc = SettlementConfig::new(args.data_dir.join("events"), db.url.clone());
    sc.genesis_fee_account = genesis_fee_account(&args.data_dir, 0)?;
    let rt = runtime()?;
    let metrics = Arc::new(Metrics::default());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let report = rt.block_on(async {
        let m = Arc::clone(&metrics);
        let task = tokio::spawn(settlement::run(sc, m, stop_rx));
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = tick.tick() => tracing::info!(
                    applied = metrics.applied_seq.load(std::sync::atomic::Ordering::Relaxed),
                    lag = metrics.lag(),
                    "settlement"
                ),
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        let _ = stop.send(true);
        anyhow::Ok(task.await??)
    })?;
    println!("settled up to event {}", report.applied_seq);
    Ok(ExitCode::SUCCESS)
}

/// `exchange clearing ...`.
pub fn clearing(cmd: ClearingCommand) -> Result<ExitCode> {
    let ClearingCommand::Trades {
        db,
        account,
        from,
        to,
        symbol,
        limit,
        json,
    } = cmd;
    let database = Database::open(&db.data_dir, db.database_url, false)?;
    let rt = runtime()?;
    let fills = rt.block_on(async {
        let client = settlement::connect(&database.url).await?;
        let q = settlement::clearing::FillQuery {
            account,
            from_ms: from,
            to_ms: to,
            symbol,
            from_trade_id: None,
            order_id: None,
            limit,
            newest: false,
        };
        anyhow::Ok(settlement::clearing::fills(&client, &q).await?)
    })?;
    if json {
        let rows: Vec<serde_json::Value> = fills.iter().map(fill_json).collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        println!("trade_id,time_ms,symbol,order_id,side,maker,price,qty,quote_qty,commission,commission_asset,event_seq");
        for f in &fills {
            println!(
                "{},{},{},{},{},{},{},{},{},{},{},{}",
                f.trade_id,
                f.time_ms,
                f.symbol,
                f.order_id,
                if f.is_buyer { "BUY" } else { "SELL" },
                f.is_maker,
                f.price,
                f.qty,
                f.quote_qty,
                f.commission,
                f.commission_asset,
                f.event_seq
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Binance's `myTrades` element.
pub fn fill_json(f: &settlement::clearing::Fill) -> serde_json::Value {
    serde_json::json!({
        "symbol": f.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": f.price,
        "qty": f.qty,
        "quoteQty": f.quote_qty,
        "commission": f.commission,
        "commissionAsset": f.commission_asset,
        "time": f.time_ms,
        "isBuyer": f.is_buyer,
        "isMaker": f.is_maker,
        "isBestMatch": true,
    })
}

/// `exchange reconcile`: exit 1 on any difference.
pub fn reconcile(args: DbArgs) -> Result<ExitCode> {
    let db = Database::open(&args.data_dir, args.database_url, false)?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let mut client = settlement::connect(&db.url).await?;
        anyhow::Ok(
            settlement::reconcile::reconcile(&mut client, "settlement", &args.data_dir).await?,
        )
    })?;
    println!("compared at event    {}", report.seq);
    println!("balances compared    {}", report.compared);
    println!(
        "trades               postgres {} matcher {}",
        report.trades_postgres, report.trades_matcher
    );
    for d in &report.differences {
        println!("DIFFERENCE {d}");
    }
    if report.is_clean() {
        println!("clean");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} balance difference(s){}",
            report.differences.len(),
            if report.trades_postgres != report.trades_matcher {
                ", trade counts differ"
            } else {
                ""
            }
        );
        Ok(ExitCode::FAILURE)
    }
}

pub mod http {
    //! `GET /api/v3/myTrades` (Binance's shape and REST signing) and
    //! `GET /metrics/settlement`.

    use super::{fill_json, SHARED};
    use axum::extract::{RawQuery, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use gateway::errors::ApiError;
    use gateway::keys::KeyStore;
    use std::sync::Arc;
    use std::time::{SystemTime, UNIX_EPOCH};
    use tokio::sync::Mutex;

    /// What the routes hold.
    #[derive(Clone)]
    pub struct ClearingState {
        keys: Arc<KeyStore>,
        client: Arc<Mutex<Option<tokio_postgres::Client>>>,
    }

    impl std::fmt::Debug for ClearingState {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ClearingState").finish_non_exhaustive()
        }
    }

    /// The routes, with their own copy of the API keys.
    pub fn routes(keys: KeyStore) -> axum::Router {
        let state = ClearingState {
            keys: Arc::new(keys),
            client: Arc::new(Mutex::new(None)),
        };
        axum::Router::new()
            .route("/api/v3/myTrades", get(my_trades))
            .route("/metrics/settlement", get(metrics))
            .with_state(state)
    }

    async fn metrics() -> Response {
        match SHARED.get() {
            Some(s) => s.metrics.render_prometheus().into_response(),
            None => (StatusCode::NOT_FOUND, "settlement is not running\n").into_response(),
        }
    }

    fn error(e: &ApiError) -> Response {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({"code": e.code(), "msg": e.message()});
        json_response(status, &body)
    }

    fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    /// Splits a raw query into (payload signed, signature): Binance signs the query string as
    /// sent, without its `signature` parameter.
    pub fn split_signature(raw: &str) -> (String, Option<String>) {
        let mut kept = Vec::new();
        let mut signature = None;
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            match part.strip_prefix("signature=") {
                Some(s) => signature = Some(s.to_string()),
                None => kept.push(part),
            }
        }
        (kept.join("&"), signature)
    }

    fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(params: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
        param(params, name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::InvalidParameter { param: name.into() })
            })
            .transpose()
    }

    async fn my_trades(
        State(state): State<ClearingState>,
        headers: HeaderMap,
        RawQuery(raw): RawQuery,
    ) -> Response {
        match my_trades_inner(&state, &headers, raw.as_deref().unwrap_or("")).await {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(e) => error(&e),
        }
    }

    async fn my_trades_inner(
        state: &ClearingState,
        headers: &HeaderMap,
        raw: &str,
    ) -> Result<serde_json::Value, ApiError> {
        let api_key = headers
            .get("X-MBX-APIKEY")
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::BadApiKeyFormat)?;
        let key = state.keys.get(api_key).ok_or(ApiError::RejectedApiKey)?;
        let (payload, signature) = split_signature(raw);
        let signature = signature.ok_or(ApiError::MandatoryParam {
            param: "signature".into(),
        })?;
        gateway::auth::verify(key.secret.expose().as_bytes(), &payload, &signature)?;
        let params: Vec<(String, String)> = url_pairs(&payload);
        let timestamp = number(&params, "timestamp")?.ok_or(ApiError::MandatoryParam {
            param: "timestamp".into(),
        })?;
        let window = gateway::auth::recv_window(number(&params, "recvWindow")?)?;
        gateway::auth::check_timestamp(timestamp, window, now_ms())?;
        let symbol = param(&params, "symbol")
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::MandatoryParam {
                param: "symbol".into(),
            })?
            .to_string();
        let limit = number(&params, "limit")?.unwrap_or(500);
        if limit == 0 || limit > 1000 {
            return Err(ApiError::InvalidParameter {
                param: "limit".into(),
            });
        }
        let start = number(&params, "startTime")?;
        let end = number(&params, "endTime")?;
        let from_id = number(&params, "fromId")?;
        let q = settlement::clearing::FillQuery {
            account: key.account.0,
            from_ms: start.unwrap_or(0),
            to_ms: end.unwrap_or(i64::MAX as u64),
            symbol: Some(symbol.clone()),
            from_trade_id: from_id,
            order_id: number(&params, "orderId")?,
            limit: limit as u32,
            // Without a start, Binance returns the most recent trades.
            newest: start.is_none() && from_id.is_none(),
        };
        let mut guard = state.client.lock().await;
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            let url = SHARED
                .get()
                .map(|s| s.url.clone())
                .ok_or(ApiError::Unknown)?;
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "myTrades: connecting to Postgres");
                    ApiError::Unknown
                })?;
            tokio::spawn(conn);
            *guard = Some(client);
        }
        let client = guard.as_ref().ok_or(ApiError::Unknown)?;
        let db_err = |e: settlement::SettleError| {
            tracing::warn!(error = %e, "myTrades query");
            ApiError::Unknown
        };
        if !settlement::clearing::symbol_exists(client, &symbol)
            .await
            .map_err(db_err)?
        {
            return Err(ApiError::BadSymbol);
        }
        let fills = settlement::clearing::fills(client, &q)
            .await
            .map_err(db_err)?;
        Ok(serde_json::Value::Array(
            fills.iter().map(fill_json).collect(),
        ))
    }

    /// `a=1&b=x%20y` as pairs, percent-decoded (`+` is a space).
    pub fn url_pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(n), decode(v))
            })
            .collect()
    }

    fn decode(s: &str) -> String {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn query_strings() {
            assert_eq!(
                split_signature("symbol=BTCUSDT&timestamp=1&signature=ab12"),
                (
                    "symbol=BTCUSDT&timestamp=1".to_string(),
                    Some("ab12".to_string())
                )
            );
            assert_eq!(split_signature("a=1"), ("a=1".to_string(), None));
            assert_eq!(
                url_pairs("a=x%20y+z&b=&c=%zz&d=%4"),
                vec![
                    ("a".to_string(), "x y z".to_string()),
                    ("b".to_string(), String::new()),
                    ("c".to_string(), "%zz".to_string()),
                    ("d".to_string(), "%4".to_string()),
                ]
            );
        }
    }
}
