//! Settlement against a real throwaway Postgres and a real node's journals.
#![allow(clippy::unwrap_used)]

mod common;

use common::{digest, session, FEE_ACCOUNT};
use matcher::AccountId;
use pgcluster::TempCluster;
use settlement::reconcile::reconcile;
use settlement::{Metrics, RunReport, SettlementConfig};
use std::path::Path;
use std::sync::Arc;

fn config(data_dir: &Path, url: &str, stop_at: u64, max_batch_events: usize) -> SettlementConfig {
    let mut c = SettlementConfig::new(data_dir.join("events"), url);
    c.genesis_fee_account = AccountId(FEE_ACCOUNT);
    c.stop_at = Some(stop_at);
    c.max_batch_events = max_batch_events;
    c
}

fn settle(c: SettlementConfig) -> RunReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    rt.block_on(settlement::run(c, Arc::new(Metrics::default()), stop_rx))
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn random_session_settles_balanced_and_reconciles_clean_then_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let last = session(dir.path(), 7, 12, 3_000);
    let pg = TempCluster::shared().unwrap();
    let db = pg.create_database().unwrap();
    let c = pg.cluster();
    let report = settle(config(dir.path(), &db.connection_string, last, 500));
    assert_eq!(report.applied_seq, last);
    assert!(report.batches > 1);

    let q = |sql: &str| c.psql(&db.name, sql).unwrap().trim().to_string();
    let trades: u64 = q("SELECT count(*) FROM trades").parse().unwrap();
    assert!(trades > 300, "the session should trade: {trades}");
    // Orders: every order accepted is there; closed ones carry a final status.
    assert!(
        q("SELECT count(*) FROM orders WHERE status = 'FILLED'")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(q("SELECT count(*) FROM orders WHERE remaining_lots > 0 AND status IN ('FILLED','CANCELED','EXPIRED')"), "0");

    // Double entry: per asset, the holders' net positions (the world included) sum to zero.
    assert_eq!(
        q("SELECT count(*) FROM (
               SELECT asset, sum(amount) AS net FROM (
                   SELECT asset, amount FROM ledger
                   UNION ALL
                   SELECT asset, -amount FROM ledger) e
               GROUP BY asset HAVING sum(amount) <> 0) x"),
        "0"
    );
    assert_eq!(q("SELECT count(DISTINCT asset) FROM ledger"), "3");
    // The ledger explains every balance: per (account, asset) credits - debits = available + frozen.
    let mismatches = q(
        "WITH net AS (
             SELECT account, asset, sum(amount) AS amount FROM (
                 SELECT credit_account AS account, asset, amount FROM ledger WHERE credit_account IS NOT NULL
                 UNION ALL
                 SELECT debit_account, asset, -amount FROM ledger WHERE debit_account IS NOT NULL) e
             GROUP BY account, asset)
         SELECT count(*) FROM net FULL JOIN balances b USING (account, asset)
         WHERE coalesce(net.amount, 0) <> coalesce(b.available + b.frozen, 0)",
    );
    assert_eq!(mismatches, "0");
    // Per asset, what the world put in (deposits - withdrawals) is what all accounts hold.
    assert_eq!(
        q("SELECT count(*) FROM (
               SELECT asset, sum(CASE WHEN debit_account IS NULL THEN amount ELSE 0 END)
                           - sum(CASE WHEN credit_account IS NULL THEN amount ELSE 0 END) AS outside
               FROM ledger GROUP BY asset) l
           JOIN (SELECT asset, sum(available + frozen) AS held FROM balances GROUP BY asset) b USING (asset)
           WHERE l.outside <> b.held"),
        "0"
    );
    // Fees went to the genesis fee account, then to the new one after SetFeeAccount.
    assert_eq!(
        q("SELECT count(DISTINCT credit_account) FROM ledger WHERE kind = 'FEE'"),
        "2"
    );

    let rt = runtime();
    let mut client = rt
        .block_on(settlement::connect(&db.connection_string))
        .unwrap();
    let r = rt
        .block_on(reconcile(&mut client, "settlement", dir.path()))
        .unwrap();
    assert_eq!(r.seq, last);
    assert!(r.is_clean(), "{:?}", r.differences);
    assert_eq!(r.trades_postgres, trades);
    assert!(r.compared >= 36);

    // Tamper with one balance: reconcile names exactly it.
    c.psql(
        &db.name,
        "UPDATE balances SET available = available + 1 WHERE account = 3 AND asset = 2",
    )
    .unwrap();
    let r = rt
        .block_on(reconcile(&mut client, "settlement", dir.path()))
        .unwrap();
    assert!(!r.is_clean());
    assert_eq!(r.differences.len(), 1, "{:?}", r.differences);
    assert_eq!(
        (r.differences[0].account.0, r.differences[0].asset.0),
        (3, 2)
    );
    let (pg_avail, _) = r.differences[0].postgres.unwrap();
    let (m_avail, _) = r.differences[0].matcher.unwrap();
    assert_eq!(pg_avail, m_avail + 1);
    // A deleted row is a difference too.
    c.psql(
        &db.name,
        "DELETE FROM balances WHERE account = 5 AND asset = 1",
    )
    .unwrap();
    let r = rt
        .block_on(reconcile(&mut client, "settlement", dir.path()))
        .unwrap();
    assert_eq!(r.differences.len(), 2);
    assert!(r
        .differences
        .iter()
        .any(|d| d.account.0 == 5 && d.asset.0 == 1 && d.postgres.is_none()));
}

#[test]
fn settling_from_scratch_gives_identical_tables_whatever_the_batching() {
    let dir = tempfile::tempdir().unwrap();
    let last = session(dir.path(), 11, 8, 1_500);
    let pg = TempCluster::shared().unwrap();
    let mut digests = Vec::new();
    for (batch, stops) in [
        (1_000_000, vec![last]),
        (7, vec![last]),
        (333, vec![last / 3, last / 2 + 1, last]),
    ] {
        let db = pg.create_database().unwrap();
        for stop in stops {
            settle(config(dir.path(), &db.connection_string, stop, batch));
        }
        digests.push(digest(pg.cluster(), &db.name));
    }
    assert!(
        digests[0].contains(&format!("settlement {last} ")),
        "{}",
        digests[0]
    );
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[0], digests[2]);
}

#[test]
fn reconcile_mid_command_uses_the_events_up_to_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let last = session(dir.path(), 5, 4, 400);
    let pg = TempCluster::shared().unwrap();
    let rt = runtime();
    // Stop at several offsets, most of them inside a command's events.
    for stop in [last / 5, last / 3 + 1, last / 2 + 2, last - 1, last] {
        let db = pg.create_database().unwrap();
        settle(config(dir.path(), &db.connection_string, stop, 50));
        let mut client = rt
            .block_on(settlement::connect(&db.connection_string))
            .unwrap();
        let r = rt
            .block_on(reconcile(&mut client, "settlement", dir.path()))
            .unwrap();
        assert_eq!(r.seq, stop);
        assert!(r.is_clean(), "at {stop}: {:?}", r.differences);
    }
}

#[test]
fn clearing_reads_an_accounts_fills_in_a_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let last = session(dir.path(), 3, 4, 600);
    let pg = TempCluster::shared().unwrap();
    let db = pg.create_database().unwrap();
    settle(config(dir.path(), &db.connection_string, last, 10_000));
    let rt = runtime();
    let client = rt
        .block_on(settlement::connect(&db.connection_string))
        .unwrap();
    let q = settlement::clearing::FillQuery {
        account: 2,
        from_ms: 0,
        to_ms: u64::MAX / 2,
        symbol: Some("BTCUSDT".into()),
        from_trade_id: None,
        order_id: None,
        limit: 1000,
        newest: false,
    };
    let fills = rt
        .block_on(settlement::clearing::fills(&client, &q))
        .unwrap();
    let expected: u64 = pg
        .cluster()
        .psql(&db.name, "SELECT count(*) FILTER (WHERE buyer = 2) + count(*) FILTER (WHERE seller = 2) FROM trades WHERE symbol_id = 1")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(fills.len() as u64, expected);
    assert!(!fills.is_empty());
    for f in &fills {
        assert_eq!(f.symbol, "BTCUSDT");
        assert_eq!(f.commission_asset, "USDT");
        // price has 6 decimals (USDT), qty 8 (BTC); the generator trades around 30000.00.
        let (int, frac) = f.price.split_once('.').unwrap();
        assert_eq!(frac.len(), 6);
        assert!(
            (29_999..=30_001).contains(&int.parse::<u64>().unwrap()),
            "{}",
            f.price
        );
        assert_eq!(f.qty.split_once('.').unwrap().1.len(), 8);
    }
    assert!(fills.windows(2).all(|w| w[0].trade_id <= w[1].trade_id));
    // The newest few, still ascending, are the tail of the whole list.
    let newest = settlement::clearing::FillQuery {
        limit: 5,
        newest: true,
        ..q.clone()
    };
    let tail = rt
        .block_on(settlement::clearing::fills(&client, &newest))
        .unwrap();
    assert_eq!(tail, fills[fills.len() - 5..].to_vec());
    // One order's fills.
    let one = settlement::clearing::FillQuery {
        order_id: Some(fills[0].order_id),
        ..q.clone()
    };
    let of_order = rt
        .block_on(settlement::clearing::fills(&client, &one))
        .unwrap();
    assert!(!of_order.is_empty());
    assert!(of_order.iter().all(|f| f.order_id == fills[0].order_id));
    assert_eq!(
        of_order.len(),
        fills
            .iter()
            .filter(|f| f.order_id == fills[0].order_id)
            .count()
    );
    assert!(rt
        .block_on(settlement::clearing::symbol_exists(&client, "ETHBTC"))
        .unwrap());
    assert!(!rt
        .block_on(settlement::clearing::symbol_exists(&client, "NOPE"))
        .unwrap());
    // An empty time range.
    let none = settlement::clearing::FillQuery {
        from_ms: 0,
        to_ms: 1,
        ..q
    };
    assert!(rt
        .block_on(settlement::clearing::fills(&client, &none))
        .unwrap()
        .is_empty());
}

#[test]
fn numeric_amounts_are_exact_in_postgres_both_ways() {
    let pg = TempCluster::shared().unwrap();
    let db = pg.create_database().unwrap();
    let rt = runtime();
    let client = rt
        .block_on(settlement::connect(&db.connection_string))
        .unwrap();
    let values = [
        0u128,
        1,
        9_999,
        10_000,
        10_001,
        1_000_000_000_000_000_000,
        10u128.pow(30),
        123_456_789_012_345_678_901_234_567_890_123,
        u128::MAX,
    ];
    for v in values {
        let row = rt
            .block_on(client.query_one(
                "SELECT $1::numeric(39,0)::text, $1::numeric(39,0), ($1::numeric(39,0) * 1.000)",
                &[&settlement::Amount(v)],
            ))
            .unwrap();
        assert_eq!(row.get::<_, String>(0), v.to_string());
        assert_eq!(row.get::<_, settlement::Amount>(1).0, v);
        // A value Postgres computed with a display scale still reads back exactly.
        assert_eq!(row.get::<_, settlement::Amount>(2).0, v);
    }
    let row = rt
        .block_on(client.query_one("SELECT 0.5::numeric, (-1)::numeric", &[]))
        .unwrap();
    assert!(row.try_get::<_, settlement::Amount>(0).is_err());
    assert!(row.try_get::<_, settlement::Amount>(1).is_err());
}

/// Every SQL example of docs/clearing.md runs on a settled database; the checks documented as
/// "expect no rows" return none.
#[test]
fn the_documented_queries_run() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/clearing.md"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let last = session(dir.path(), 13, 4, 300);
    let pg = TempCluster::shared().unwrap();
    let db = pg.create_database().unwrap();
    settle(config(dir.path(), &db.connection_string, last, 10_000));
    let (mut blocks, mut checks) = (0, 0);
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```sql\n") {
        let before = &rest[..start];
        let body = &rest[start + 7..];
        let end = body.find("```").unwrap();
        let sql = &body[..end];
        let expect_empty = before
            .trim_end()
            .rsplit("\n\n")
            .next()
            .unwrap_or("")
            .contains("expect no rows");
        let out = pg
            .cluster()
            .psql(&db.name, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        if expect_empty {
            assert_eq!(out.trim(), "", "{sql}");
            checks += 1;
        }
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(blocks >= 6 && checks >= 2, "{blocks} {checks}");
}
