//! The node end to end, without sockets: durable-then-applied replies, ordered queries,
#![allow(clippy::unwrap_used)]
//! broadcast, shutdown, restart from snapshot + journal, and offline replay.

use matcher::{
    AccountId, AssetConfig, AssetId, ClientOrderId, Command, EventKind, OrderType, PlaceOrder,
    Side, StpMode, SymbolConfig, SymbolId, TimeInForce, TxId,
};
use node::{NoProjection, Node, NodeConfig};
use proptest::prelude::*;
use std::path::Path;

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
            tick_size: 1_000_000, // 0.01 USDT
            lot_size: 1_000,      // 0.00001 BTC
            min_qty: 1,
            max_qty: 1_000_000_000,
            max_price: 100_000_000_000,
            min_notional: 0,
            maker_fee_ppm: 1000,
            taker_fee_ppm: 1000,
        }),
    ];
    for a in 1..=4u64 {
        for asset in 1..=2u32 {
            g.push(Command::Deposit {
                account: AccountId(a),
                asset: AssetId(asset),
                amount: 1_000_000 * 100_000_000,
                tx_id: TxId::new(&format!("g{a}-{asset}")).unwrap(),
            });
        }
    }
    g
}

fn config(dir: &Path, snapshot_every: u64) -> NodeConfig {
    let mut c = NodeConfig::new(dir);
    c.genesis = genesis();
    c.snapshot_every = snapshot_every;
    c.segment_bytes = 1 << 20;
    c
}

fn limit(account: u64, side: Side, price: u64, qty: u64, n: u64) -> Command {
    Command::PlaceOrder(PlaceOrder {
        account: AccountId(account),
        symbol: SymbolId(1),
        side,
        order_type: OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Gtc,
        },
        client_order_id: ClientOrderId::new(&format!("c{n}")).unwrap(),
        stp: StpMode::None,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn replies_follow_durability_queries_are_ordered_and_restart_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(dir.path(), 0), NoProjection).unwrap();
    let handle = node.handle();
    let mut sub = handle.subscribe();
    let rt = runtime();
    let (hash_live, last_seq) = rt.block_on(async {
        let ev = handle
            .submit(limit(1, Side::Sell, 500_000, 10, 1))
            .await
            .unwrap();
        // The reply comes after the command is durable.
        assert!(handle.commands_journal().durable_index() >= ev.seq);
        assert!(matches!(ev.events[0].kind, EventKind::OrderAccepted(_)));
        let ev2 = handle
            .submit(limit(2, Side::Buy, 500_000, 4, 2))
            .await
            .unwrap();
        assert!(ev2
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Trade(_))));
        // Pipelined: many in flight from one task, replies in order.
        let rxs: Vec<_> = (0..200)
            .map(|i| {
                handle
                    .enqueue(limit(3, Side::Buy, 400_000 + i, 1, 100 + i))
                    .unwrap()
            })
            .collect();
        let q = handle.query(|engine, _| engine.open_orders(AccountId(3), None).len());
        let mut last = 0;
        for rx in rxs {
            let ev = rx.await.unwrap().unwrap();
            assert!(ev.seq > last);
            last = ev.seq;
        }
        // `after` sees the engine exactly as the command left it, even with more queued.
        let a = handle
            .enqueue_with(limit(4, Side::Buy, 100, 1, 900), |ev, e, _| {
                (ev.seq, e.last_cmd_seq())
            })
            .unwrap();
        let b = handle.enqueue(limit(4, Side::Buy, 101, 1, 901)).unwrap();
        let (seq, seen) = a.await.unwrap().unwrap();
        assert_eq!(seq, seen);
        last = b.await.unwrap().unwrap().seq;
        assert_eq!(last, seq + 1);
        // A closure that panics loses its own answer; the node goes on.
        let bad = handle.enqueue_with(limit(4, Side::Buy, 102, 1, 902), |_, _, _| -> u64 {
            panic!("a render bug")
        });
        assert!(bad.unwrap().await.is_err());
        let bad_query = handle.query(|_, _| -> u64 { panic!("a query bug") }).await;
        assert!(bad_query.is_err());
        assert!(handle.failure().is_none());
        last = handle
            .submit(limit(4, Side::Buy, 103, 1, 903))
            .await
            .unwrap()
            .seq;
        // The query was queued after the 200 orders: it sees all of them.
        assert_eq!(q.await.unwrap(), 200);
        // The broadcast carried the genesis commands and ours, in order.
        let mut seen = 0;
        let mut prev = 0;
        while let Ok(b) = sub.try_recv() {
            assert!(b.seq > prev);
            prev = b.seq;
            seen += 1;
        }
        assert_eq!(prev, last);
        assert_eq!(seen as u64, last);
        let hash = handle.query(|e, _| hex(&e.state_hash())).await.unwrap();
        (hash, last)
    });
    let h2 = handle.clone();
    let report = node.shutdown().unwrap();
    assert_eq!(report.last_cmd_seq, last_seq);
    assert_eq!(report.state_hash, hash_live);
    assert_eq!(report.snapshot, Some(last_seq));
    assert!(matches!(
        rt.block_on(h2.submit(limit(1, Side::Buy, 1, 1, 9))),
        Err(node::NodeError::ShuttingDown)
    ));

    // Offline replay from the first command gives the live hash and identical events.
    let replay = node::replay::replay(dir.path(), true).unwrap();
    assert_eq!(replay.state_hash, hash_live);
    assert_eq!(replay.last_cmd_seq, last_seq);
    assert_eq!(replay.events_compared, replay.last_event_seq);
    assert_eq!(replay.first_event_mismatch, None);

    // Restart: the genesis is not journaled twice, the state is the same.
    let node = Node::start(config(dir.path(), 0), NoProjection).unwrap();
    let handle = node.handle();
    let (hash, seq) = rt.block_on(async {
        handle
            .query(|e, _| (hex(&e.state_hash()), e.last_cmd_seq()))
            .await
            .unwrap()
    });
    assert_eq!((hash, seq), (hash_live, last_seq));
    node.shutdown().unwrap();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Drops the node without a graceful shutdown (no final snapshot) and deletes the events
/// journal's tail: recovery must rebuild the missing events exactly.
#[test]
fn recovery_from_periodic_snapshots_and_a_lost_events_tail() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let node = Node::start(config(dir.path(), 7), NoProjection).unwrap();
    let handle = node.handle();
    let hash = rt.block_on(async {
        for i in 0..100u64 {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            handle
                .submit(limit(1 + i % 4, side, 500_000 + (i % 5), 1 + i % 3, i))
                .await
                .unwrap();
        }
        handle.query(|e, _| hex(&e.state_hash())).await.unwrap()
    });
    let report = node.shutdown().unwrap();
    assert_eq!(report.state_hash, hash);
    let snaps = journal::snapshot::list_snapshots(&dir.path().join("commands")).unwrap();
    assert!(!snaps.is_empty() && snaps.len() <= 2, "{snaps:?}");
    // Remove the final snapshot so recovery starts from a periodic one and replays.
    let last = *snaps.last().unwrap();
    std::fs::remove_file(
        dir.path()
            .join(format!("commands/snapshots/{last:020}.snap")),
    )
    .unwrap();
    // The last command (after the newest remaining snapshot) had at least 3 events.
    let kept_events = zero_last_frames(&dir.path().join("events"), 2);
    assert_eq!(kept_events + 2, report.last_event_seq);
    let node = Node::start(config(dir.path(), 7), NoProjection).unwrap();
    let h = node.handle();
    let again = rt.block_on(async { h.query(|e, _| hex(&e.state_hash())).await.unwrap() });
    assert_eq!(again, hash);
    node.shutdown().unwrap();
    let replay = node::replay::replay(dir.path(), true).unwrap();
    assert_eq!(replay.state_hash, hash);
    // The two lost events were rebuilt: the events journal is whole again.
    assert_eq!(replay.events_compared, report.last_event_seq);
    assert_eq!(replay.first_event_mismatch, None);
}

/// Zeroes the last `n` frames of the (single) events segment, as a crash before they reached
/// the disk would leave it; returns how many records remain.
fn zero_last_frames(dir: &Path, n: usize) -> u64 {
    let segs = journal::segment::list_segments(dir).unwrap();
    assert_eq!(segs.len(), 1, "the test expects one events segment");
    let path = journal::segment::segment_path(dir, segs[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut offsets = Vec::new();
    let mut at = 0usize;
    while at + 32 <= bytes.len() && bytes[at..at + 32].iter().any(|&b| b != 0) {
        offsets.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += journal::format::frame_len(len);
    }
    let from = offsets[offsets.len() - n];
    bytes[from..].iter_mut().for_each(|b| *b = 0);
    std::fs::write(&path, &bytes).unwrap();
    (offsets.len() - n) as u64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    /// A random session stopped at a random point, restarted, continued: the state equals an
    /// uninterrupted offline replay.
    #[test]
    fn restart_anywhere_matches_replay(
        orders in proptest::collection::vec((1u64..5, any::<bool>(), 0u64..8, 1u64..5), 1..60),
        cut in 0usize..60,
        every in 0u64..10,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let cut = cut.min(orders.len());
        for (part, range) in [(0, 0..cut), (1, cut..orders.len())] {
            let node = Node::start(config(dir.path(), every), NoProjection).unwrap();
            let h = node.handle();
            rt.block_on(async {
                for i in range {
                    let (a, buy, p, q) = orders[i];
                    let side = if buy { Side::Buy } else { Side::Sell };
                    h.submit(limit(a, side, 500_000 + p, q, (part * 1000 + i) as u64)).await.unwrap();
                }
                h.query(|e, _| e.check_invariants()).await.unwrap().unwrap();
            });
            node.shutdown().unwrap();
        }
        let replay = node::replay::replay(dir.path(), true).unwrap();
        prop_assert_eq!(replay.first_event_mismatch, None);
        prop_assert_eq!(replay.commands as usize, genesis().len() + orders.len());
    }
}

/// Shutting down while submitters keep sending: a command is journaled exactly when its
/// submitter is told it was applied (nothing is journaled behind the stop, nothing
/// acknowledged is missing), and the restarted node has exactly those commands.
#[test]
fn a_shutdown_under_load_journals_exactly_the_acknowledged_commands() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(dir.path(), 0), NoProjection).unwrap();
    let genesis_len = genesis().len() as u64;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let submitters: Vec<_> = (0..3u64)
        .map(|t| {
            let handle = node.handle();
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let rt = runtime();
                let mut pending = Vec::new();
                let mut n = 0u64;
                // Keep sending until the node refuses, well past the shutdown's start.
                while let Ok(rx) = handle.enqueue(limit(t + 1, Side::Buy, 1 + n % 50, 1, n)) {
                    pending.push(rx);
                    n += 1;
                    if n.is_multiple_of(64) {
                        std::thread::yield_now();
                    }
                    if stop.load(std::sync::atomic::Ordering::Relaxed) && n > 1_000_000 {
                        break;
                    }
                }
                let acknowledged: Vec<u64> = pending
                    .into_iter()
                    .filter_map(|rx| rt.block_on(rx).ok().and_then(Result::ok))
                    .map(|ev| ev.seq)
                    .collect();
                (n, acknowledged)
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = node.shutdown().unwrap();
    let mut acknowledged: Vec<u64> = Vec::new();
    let mut sent = 0;
    for s in submitters {
        let (n, acks) = s.join().unwrap();
        sent += n;
        acknowledged.extend(acks);
    }
    acknowledged.sort_unstable();
    assert!(acknowledged.len() > 100, "too few commands went through");
    // Every command queued was either applied or dropped unjournaled (queued behind the
    // stop), and the submitters stopped only when the node refused them.
    assert!(sent >= acknowledged.len() as u64);
    // Exactly the acknowledged commands follow the genesis in the journal, without gaps.
    let expected: Vec<u64> = (genesis_len + 1..=report.last_cmd_seq).collect();
    assert_eq!(acknowledged, expected);
    let replay = node::replay::replay(dir.path(), true).unwrap();
    assert_eq!(replay.last_cmd_seq, report.last_cmd_seq);
    assert_eq!(replay.state_hash, report.state_hash);
}
