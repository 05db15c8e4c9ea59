//! Persistence: candles written in batches by the writer, killed mid-way and restarted, equal
//! the candles rebuilt from the whole events journal; the offset ends at the last event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kline::{Aggregator, Interval, KlineStore, SeriesKey, WriterConfig};
use matcher::{
    AccountId, AssetConfig, AssetId, ClientOrderId, Command, OrderType, PlaceOrder, Side, StpMode,
    SymbolConfig, SymbolId, TimeInForce, TxId,
};
use node::{NoProjection, Node, NodeConfig};
use std::time::Duration;

fn genesis() -> Vec<Command> {
    let mut g = vec![
        Command::UpsertAsset(AssetConfig {
            id: AssetId(1),
            code: "BTC".into(),
            scale: 8,
        }),
        Command::UpsertAsset(AssetConfig {
            id: AssetId(2),
            code: "USDT".into(),
            scale: 8,
        }),
        Command::UpsertSymbol(SymbolConfig {
            id: SymbolId(1),
            name: "BTCUSDT".into(),
            base: AssetId(1),
            quote: AssetId(2),
            tick_size: 1_000_000,
            lot_size: 1_000,
            min_qty: 1,
            max_qty: 900_000_000,
            max_price: 100_000_000,
            min_notional: 0,
            maker_fee_ppm: 0,
            taker_fee_ppm: 0,
        }),
    ];
    for a in 1..=4u64 {
        for asset in 1..=2u32 {
            g.push(Command::Deposit {
                account: AccountId(a),
                asset: AssetId(asset),
                amount: 1 << 90,
                tx_id: TxId::new(&format!("d{a}-{asset}")).unwrap(),
            });
        }
    }
    g
}

fn order(n: u64) -> Command {
    // Alternating resting asks and crossing bids at drifting prices: about one trade per pair.
    let side = if n.is_multiple_of(2) {
        Side::Sell
    } else {
        Side::Buy
    };
    Command::PlaceOrder(PlaceOrder {
        account: AccountId(1 + n % 4),
        symbol: SymbolId(1),
        side,
        order_type: OrderType::Limit {
            price: 10_000 + (n / 2) % 37,
            qty: 1 + n % 7,
            tif: TimeInForce::Gtc,
        },
        client_order_id: ClientOrderId::new(&format!("o{n}")).unwrap(),
        stp: StpMode::None,
    })
}

async fn submit(handle: &node::NodeHandle<NoProjection>, from: u64, to: u64, pause: Duration) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(100) {
        let rxs: Vec<_> = chunk
            .iter()
            .map(|n| handle.enqueue(order(*n)).unwrap())
            .collect();
        for rx in rxs {
            rx.await.unwrap().unwrap();
        }
        tokio::time::sleep(pause).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_resume_exactly_once_after_a_crash() {
    let db = pgcluster::TempCluster::shared()
        .unwrap()
        .create_database()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut nc = NodeConfig::new(dir.path());
    nc.genesis = genesis();
    let node = tokio::task::spawn_blocking(move || Node::start(nc, NoProjection))
        .await
        .unwrap()
        .unwrap();
    let handle = node.handle();
    submit(&handle, 0, 1500, Duration::from_millis(30)).await;

    // First writer: small batches; killed (its task aborted) once it has committed some.
    let config = WriterConfig {
        max_batch_events: 300,
        ..WriterConfig::default()
    };
    let first = {
        let url = db.connection_string.clone();
        let events = handle.events_journal().clone();
        let config = config.clone();
        tokio::spawn(async move {
            let mut store = KlineStore::connect(&url, "klines").await.unwrap();
            kline::follow(&mut store, &events, &config).await
        })
    };
    let probe = KlineStore::connect(&db.connection_string, "klines")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while probe.last_seq().await.unwrap() < 1000 {
        assert!(
            !first.is_finished(),
            "first writer ended: {:?}",
            first.await
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "first writer made no progress"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.abort();
    let _ = first.await;
    let at_crash = probe.last_seq().await.unwrap();
    assert!(at_crash >= 1000);

    // More trading, a second writer, then the node stops (the journal closes).
    submit(&handle, 1500, 2500, Duration::from_millis(30)).await;
    let second = {
        let url = db.connection_string.clone();
        let events = handle.events_journal().clone();
        tokio::spawn(async move {
            let mut store = KlineStore::connect(&url, "klines").await.unwrap();
            kline::follow(&mut store, &events, &config).await
        })
    };
    submit(&handle, 2500, 3000, Duration::from_millis(30)).await;
    let report = tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap()
        .unwrap();
    let written = second.await.unwrap().unwrap();
    assert_eq!(written, report.last_event_seq);
    assert_eq!(probe.last_seq().await.unwrap(), report.last_event_seq);

    // The reference: every event of the journal folded at once.
    let mut reference = Aggregator::new(1_000_000);
    let mut reader = journal::JournalReader::open(dir.path().join("events"), 1).unwrap();
    while let Some(r) = reader.try_next().unwrap() {
        reference.apply(&matcher::codec::decode_event(&r.payload).unwrap());
    }
    assert_eq!(reference.last_seq(), report.last_event_seq);
    let mut compared = 0;
    for interval in Interval::ALL {
        let key = SeriesKey {
            symbol: SymbolId(1),
            interval,
        };
        let want = reference.range(key, None, None, usize::MAX);
        assert!(!want.is_empty());
        assert_eq!(probe.load(key).await.unwrap(), want, "{interval}");
        compared += want.len();
    }
    assert_eq!(probe.series().await.unwrap().len(), Interval::ALL.len());
    assert!(compared > Interval::ALL.len());
}
