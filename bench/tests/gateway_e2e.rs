//! End to end: the client and the demo traders against a real node and gateway
//! (in-process, durable journal in a temp dir, real WebSocket connections on loopback).
#![allow(clippy::unwrap_used)]

use bench::client::{
    Client, ClientConfig, Credentials, OrderAck, OrderRef, OrderRequest, OrderStatus, Side,
    TimeInForce, UserEventKind,
};
use bench::demo::{run, DemoConfig, ErrorKind, TraderKey};
use bench::flow::SymbolSpec;
use gateway::server::GatewayConfig;
use std::time::Duration;

const ACCOUNTS: [u64; 4] = [1001, 1002, 1003, 1004];

struct Exchange {
    url: String,
    keys: Vec<TraderKey>,
    _inner: gateway::testing::TestExchange,
}

/// A real node and gateway in-process (`gateway::testing`): BTCUSDT (tick 0.01, lot 0.00001,
/// min notional 5 USDT, fees 0.1%), every account holding 10 BTC and 1,000,000 USDT.
async fn start() -> Exchange {
    let inner = gateway::testing::TestExchange::start(GatewayConfig::default(), &ACCOUNTS)
        .await
        .unwrap();
    let keys = inner
        .keys
        .iter()
        .map(|k| TraderKey {
            account: k.account,
            api_key: k.api_key.clone(),
            secret: k.secret.clone(),
        })
        .collect();
    Exchange {
        url: inner.url(),
        keys,
        _inner: inner,
    }
}

async fn client(ex: &Exchange, i: usize) -> Client {
    Client::connect_with(
        &ex.url,
        ClientConfig {
            credentials: Some(Credentials::new(
                ex.keys[i].api_key.clone(),
                ex.keys[i].secret.clone(),
            )),
            ..ClientConfig::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_methods_against_the_real_gateway() {
    let ex = start().await;
    let alice = client(&ex, 0).await;
    let bob = client(&ex, 1).await;
    alice.ping().await.unwrap();
    assert!(
        alice
            .time()
            .await
            .unwrap()
            .abs_diff(bench::client::now_ms())
            < 5_000
    );
    let info = alice.exchange_info(Some("BTCUSDT")).await.unwrap();
    assert_eq!(info["symbols"][0]["symbol"], "BTCUSDT");

    // Signed without logon: a resting sell, visible in status and open orders.
    let sell = OrderRequest::limit(
        "BTCUSDT",
        Side::Sell,
        TimeInForce::Gtc,
        "50000.00",
        "0.01000",
    );
    let ack = OrderAck::from_result(&alice.place_order(&sell).await.unwrap()).unwrap();
    assert_eq!(ack.status, Some(OrderStatus::New));
    let status = alice
        .order_status("BTCUSDT", &OrderRef::Id(ack.order_id))
        .await
        .unwrap();
    assert_eq!(status["status"], "NEW");
    assert_eq!(
        alice
            .open_orders(Some("BTCUSDT"))
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Bob logs on, subscribes, and takes half of it: one fill, and an execution report.
    bob.logon().await.unwrap();
    let mut reports = bob.subscribe_user_data().await.unwrap();
    let buy = OrderRequest::market("BTCUSDT", Side::Buy, "0.00500");
    let taken = OrderAck::from_result(&bob.place_order(&buy).await.unwrap()).unwrap();
    assert_eq!(taken.status, Some(OrderStatus::Filled));
    assert_eq!(taken.fills.len(), 1);
    assert_eq!(taken.fills[0].price, "50000.00000000");
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(5), reports.next())
            .await
            .unwrap()
            .unwrap();
        kinds.push(ev.kind);
    }
    assert!(kinds.contains(&UserEventKind::ExecutionReport), "{kinds:?}");
    // A second subscription on the connection is refused; the first stream carries on.
    assert!(bob.subscribe_user_data().await.is_err());
    let small = OrderRequest::market("BTCUSDT", Side::Buy, "0.00200");
    let again = OrderAck::from_result(&bob.place_order(&small).await.unwrap()).unwrap();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), reports.next())
            .await
            .unwrap()
            .unwrap();
        if ev.kind == UserEventKind::ExecutionReport && ev.order_id() == Some(again.order_id) {
            break;
        }
    }

    // Alice moves the rest, then cancels all; Bob cannot touch Alice's order.
    let moved = OrderRequest::limit(
        "BTCUSDT",
        Side::Sell,
        TimeInForce::Gtc,
        "50001.00",
        "0.00500",
    );
    let cr = alice
        .cancel_replace(
            &OrderRef::Id(ack.order_id),
            bench::client::CancelReplaceMode::StopOnFailure,
            &moved,
        )
        .await
        .unwrap();
    let cr = bench::client::CancelReplaceAck::from_result(&cr).unwrap();
    assert_eq!(cr.new_order.status, Some(OrderStatus::New));
    let err = bob
        .cancel_order("BTCUSDT", &OrderRef::Id(cr.new_order.order_id))
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some(-2011), "{err}");
    let all = alice.cancel_all("BTCUSDT").await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
    let account = alice.account_status().await.unwrap();
    assert!(account["balances"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_against_the_real_gateway_counts_every_trade() {
    let ex = start().await;
    let symbols = vec![SymbolSpec::new(
        "BTCUSDT", "0.01", "0.00001", "50000.00", "0.00030", "0.00300",
    )];
    let config = DemoConfig::new(&ex.url, ex.keys.clone(), 300, symbols);
    let report = run(config, tokio::time::sleep(Duration::from_millis(2_000)))
        .await
        .unwrap();
    println!("{report}");
    assert!(report.sent > 200, "{report}");
    assert_eq!(report.responses, report.sent, "{report}");
    assert_eq!(report.disconnected, 0);
    assert!(report.trades > 0, "{report}");
    // Only races of a cancel or move with a fill of the same order may fail.
    for (kind, n) in &report.errors {
        assert!(
            matches!(kind, ErrorKind::Api(-2011 | -2021 | -2022)),
            "unexpected {kind}: {n} in {report}"
        );
    }
    // Every trade appears as a fill in exactly one response (its taker's): the next trade
    // id after the run is the count plus one.
    let a = client(&ex, 0).await;
    let b = client(&ex, 1).await;
    // An ask far above the market guarantees liquidity without trading itself.
    let ask = OrderRequest::limit(
        "BTCUSDT",
        Side::Sell,
        TimeInForce::Gtc,
        "90000.00",
        "0.00100",
    );
    let ask = OrderAck::from_result(&a.place_order(&ask).await.unwrap()).unwrap();
    assert!(ask.fills.is_empty());
    let buy = OrderRequest::market("BTCUSDT", Side::Buy, "0.00100");
    let probe = OrderAck::from_result(&b.place_order(&buy).await.unwrap()).unwrap();
    let first = probe.fills.iter().map(|f| f.trade_id).min().unwrap();
    assert_eq!(report.trades + 1, first, "{report}");
}
