//! Reconcile: Postgres balances at the committed offset against the matcher's state at the
//! same event, recomputed offline from the commands journal (not from the events journal that
//! settlement read, so a wrong event, a lost batch or a tampered row all show up).

use crate::numeric::Amount;
use crate::SettleError;
use journal::JournalReader;
use matcher::{codec, AccountId, AssetId, Engine, EventKind};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use tokio_postgres::Client;

pub use crate::genesis::{read_genesis, GENESIS_FILE};

/// (available, frozen).
pub type Pair = (u128, u128);

/// Balances by (account, asset).
pub type Balances = BTreeMap<(AccountId, AssetId), Pair>;

/// One (account, asset) on which Postgres and the matcher disagree (a missing row counts as
/// zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Account.
    pub account: AccountId,
    /// Asset.
    pub asset: AssetId,
    /// What Postgres holds.
    pub postgres: Option<Pair>,
    /// What the matcher holds.
    pub matcher: Option<Pair>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |p: Option<Pair>| match p {
            Some((a, fr)) => format!("available={a} frozen={fr}"),
            None => "no row".to_string(),
        };
        write!(
            f,
            "account {} asset {}: postgres {} | matcher {}",
            self.account,
            self.asset,
            show(self.postgres),
            show(self.matcher)
        )
    }
}

/// What a reconcile found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// The event both sides were compared at (the consumer's offset).
    pub seq: u64,
    /// (account, asset) pairs compared.
    pub compared: usize,
    /// Every difference.
    pub differences: Vec<Difference>,
    /// Trades in Postgres.
    pub trades_postgres: u64,
    /// Trades the matcher made up to `seq`.
    pub trades_matcher: u64,
}

impl ReconcileReport {
    /// Whether both sides agree on every balance and the trade count.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty() && self.trades_postgres == self.trades_matcher
    }
}

/// Postgres's committed offset, balances and trade count, read in one snapshot.
async fn postgres_side(
    client: &mut Client,
    consumer: &str,
) -> Result<(u64, Balances, u64), SettleError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let seq: i64 = tx
        .query_opt(
            "SELECT last_seq FROM consumer_offsets WHERE consumer = $1",
            &[&consumer],
        )
        .await?
        .map_or(0, |r| r.get(0));
    let mut balances = BTreeMap::new();
    for r in tx
        .query(
            "SELECT account, asset, available, frozen FROM balances",
            &[],
        )
        .await?
    {
        let account: i64 = r.get(0);
        let asset: i64 = r.get(1);
        let available: Amount = r.get(2);
        let frozen: Amount = r.get(3);
        let key = (
            AccountId(u64::try_from(account).map_err(|_| bad("account", account))?),
            AssetId(u32::try_from(asset).map_err(|_| bad("asset", asset))?),
        );
        balances.insert(key, (available.0, frozen.0));
    }
    let trades: i64 = tx
        .query_one("SELECT count(*) FROM trades", &[])
        .await?
        .get(0);
    tx.commit().await?;
    Ok((
        u64::try_from(seq).map_err(|_| bad("offset", seq))?,
        balances,
        u64::try_from(trades).map_err(|_| bad("count", trades))?,
    ))
}

fn bad(what: &str, v: i64) -> SettleError {
    SettleError::Schema(format!("bad {what} {v}"))
}

/// The matcher's balances right after event `seq` and its trade count up to it, replaying the
/// commands journal of `data_dir` from genesis.
pub fn matcher_side(data_dir: &Path, seq: u64) -> Result<(Balances, u64), SettleError> {
    let genesis = read_genesis(data_dir)?;
    let mut engine: Engine = Engine::new(genesis);
    let mut commands = JournalReader::open(data_dir.join("commands"), 1)?;
    // Balances from the events with sequence <= seq (every change emits a Balance event with
    // the new absolute value), for a `seq` inside a command's events.
    let mut folded: Balances = BTreeMap::new();
    let mut trades = 0u64;
    let mut out = Vec::new();
    while engine.last_event_seq() < seq {
        let Some(record) = commands.try_next()? else {
            return Err(SettleError::Node(format!(
                "the commands journal ends at event {} but Postgres settled up to event {seq}",
                engine.last_event_seq()
            )));
        };
        let cmd = codec::decode_command(&record.payload)
            .map_err(|e| SettleError::Node(format!("command {}: {e}", record.index)))?;
        out.clear();
        engine.apply(&cmd, &mut out);
        for e in out.iter().filter(|e| e.seq <= seq) {
            match &e.kind {
                EventKind::Balance {
                    account,
                    asset,
                    available,
                    frozen,
                } => {
                    folded.insert((*account, *asset), (*available, *frozen));
                }
                EventKind::Trade(_) => trades += 1,
                _ => {}
            }
        }
    }
    if engine.last_event_seq() == seq {
        // At a command boundary the engine's own state is the reference.
        for (key, value) in folded.iter_mut() {
            let b = engine.balance(key.0, key.1);
            *value = (b.available, b.frozen);
        }
    }
    Ok((folded, trades))
}

/// Compares Postgres (consumer `consumer`) with the matcher recomputed from `data_dir`.
pub async fn reconcile(
    client: &mut Client,
    consumer: &str,
    data_dir: &Path,
) -> Result<ReconcileReport, SettleError> {
    let (seq, pg, trades_postgres) = postgres_side(client, consumer).await?;
    let dir = data_dir.to_path_buf();
    let (matcher, trades_matcher) = tokio::task::spawn_blocking(move || matcher_side(&dir, seq))
        .await
        .map_err(|e| SettleError::Node(format!("replay task: {e}")))??;
    Ok(compare(seq, &pg, &matcher, trades_postgres, trades_matcher))
}

/// Every (account, asset) of either side whose values differ (absent = zero).
pub fn compare(
    seq: u64,
    pg: &Balances,
    matcher: &Balances,
    trades_postgres: u64,
    trades_matcher: u64,
) -> ReconcileReport {
    let mut keys: Vec<_> = pg.keys().chain(matcher.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let differences = keys
        .iter()
        .filter_map(|k| {
            let p = pg.get(k).copied();
            let m = matcher.get(k).copied();
            let differs = p.unwrap_or((0, 0)) != m.unwrap_or((0, 0));
            differs.then_some(Difference {
                account: k.0,
                asset: k.1,
                postgres: p,
                matcher: m,
            })
        })
        .collect();
    ReconcileReport {
        seq,
        compared: keys.len(),
        differences,
        trades_postgres,
        trades_matcher,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_account_and_asset_and_treat_missing_as_zero() {
        let k = |a: u64, s: u32| (AccountId(a), AssetId(s));
        let pg = BTreeMap::from([(k(1, 1), (5, 0)), (k(2, 1), (0, 0)), (k(3, 2), (7, 1))]);
        let m = BTreeMap::from([(k(1, 1), (5, 0)), (k(3, 2), (7, 2)), (k(4, 1), (1, 0))]);
        let r = compare(9, &pg, &m, 3, 3);
        assert_eq!(r.compared, 4);
        let named: Vec<String> = r.differences.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            named,
            vec![
                "account 3 asset 2: postgres available=7 frozen=1 | matcher available=7 frozen=2",
                "account 4 asset 1: postgres no row | matcher available=1 frozen=0",
            ]
        );
        assert!(!r.is_clean());
        assert!(compare(9, &pg, &pg, 1, 1).is_clean());
        assert!(!compare(9, &pg, &pg, 1, 2).is_clean());
    }
}
