//! Stream protocol and payload shapes: SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS /
//! properties and their errors, exact trade / bookTicker / kline / ticker payloads, klines
//! closed on time without trades, and REST klines equal to a recomputation from the trades
//! in the events journal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use futures_util::SinkExt;
use matcher::{
    AccountId, ClientOrderId, Command, Event, EventKind, OrderType, PlaceOrder, Side, StpMode,
    SymbolId, TimeInForce,
};
use md_push::MdPushConfig;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn send(ws: &mut Ws, v: Value) -> Value {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
    next_json(ws, Duration::from_secs(5)).await.unwrap()
}

fn limit(account: u64, side: Side, price: u64, qty: u64, coid: &str) -> Command {
    Command::PlaceOrder(PlaceOrder {
        account: AccountId(account),
        symbol: SymbolId(1),
        side,
        order_type: OrderType::Limit {
            price,
            qty,
            tif: TimeInForce::Gtc,
        },
        client_order_id: ClientOrderId::new(coid).unwrap(),
        stp: StpMode::None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_subscription_protocol() {
    let x = Exchange::start(MdPushConfig {
        max_incoming_per_second: 100,
        ..MdPushConfig::default()
    })
    .await;
    let mut ws = ws(x.addr(), "/ws").await;
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "BTCUSDT@depth@100ms"], "id": 1}),
            json!({"result": null, "id": 1}),
        ),
        (
            json!({"method": "LIST_SUBSCRIPTIONS", "id": 2}),
            json!({"result": ["btcusdt@trade", "btcusdt@depth@100ms"], "id": 2}),
        ),
        (
            json!({"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 3}),
            json!({"result": null, "id": 3}),
        ),
        (
            json!({"method": "LIST_SUBSCRIPTIONS", "id": "x"}),
            json!({"result": ["btcusdt@trade"], "id": "x"}),
        ),
        (
            json!({"method": "GET_PROPERTY", "params": ["combined"], "id": 4}),
            json!({"result": false, "id": 4}),
        ),
        (
            json!({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 5}),
            json!({"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": 5}),
        ),
        (
            json!({"method": "SET_PROPERTY", "params": ["other", true], "id": 6}),
            json!({"error": {"code": 0, "msg": "Unknown property"}, "id": 6}),
        ),
        (
            json!({"method": "GET_PROPERTY", "params": [7], "id": 7}),
            json!({"error": {"code": 2, "msg": "Invalid request: property name must be a string"}, "id": 7}),
        ),
        (
            json!({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 8}),
            json!({"error": {"code": 2, "msg": "Invalid request: invalid stream name \"btcusdt@aggTrade\""}, "id": 8}),
        ),
        (
            json!({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": -1}),
            json!({"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": null}),
        ),
        (
            json!({"method": "SET_PROPERTY", "params": ["combined", true], "id": 9}),
            json!({"result": null, "id": 9}),
        ),
    ];
    for (request, want) in cases {
        assert_eq!(send(&mut ws, request.clone()).await, want, "{request}");
    }
    let bad = send(&mut ws, json!({"method": "PING", "id": 10})).await;
    assert_eq!(bad["error"]["code"], 2);
    assert!(bad["error"]["msg"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request: unknown variant"));
    ws.send(Message::Text("{not json".into())).await.unwrap();
    let bad = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(bad["error"]["code"], 3);
    // Combined is now on: a trade arrives wrapped.
    x.handle
        .submit(limit(1, Side::Sell, 10_000, 5, "s1"))
        .await
        .unwrap();
    x.handle
        .submit(limit(2, Side::Buy, 10_000, 2, "b1"))
        .await
        .unwrap();
    let m = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(m["stream"], "btcusdt@trade");
    assert_eq!(m["data"]["e"], "trade");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_message_limit_closes_the_connection() {
    let x = Exchange::start(MdPushConfig::default()).await;
    let mut ws = ws(x.addr(), "/ws").await;
    for i in 0..10 {
        let _ = ws
            .send(Message::Text(
                json!({"method": "LIST_SUBSCRIPTIONS", "id": i})
                    .to_string()
                    .into(),
            ))
            .await;
    }
    let mut answers = 0;
    while next_json(&mut ws, Duration::from_secs(2)).await.is_some() {
        answers += 1;
    }
    assert_eq!(
        answers, 5,
        "five messages per second are answered, then the connection closes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trade_book_ticker_and_depth_payloads() {
    let x = Exchange::start(MdPushConfig::default()).await;
    let mut ws = ws(
        x.addr(),
        "/ws/btcusdt@trade/btcusdt@bookTicker/btcusdt@depth@0ms/btcusdt@depth5@100ms",
    )
    .await;
    // A resting ask of 0.00005 BTC at 100.00, then a buy of 0.00002 at 100.00 trades.
    let e1 = x
        .handle
        .submit(limit(1, Side::Sell, 10_000, 5, "s1"))
        .await
        .unwrap();
    let e2 = x
        .handle
        .submit(limit(2, Side::Buy, 10_000, 2, "b1"))
        .await
        .unwrap();
    let mut got: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    while let Some(m) = next_json(&mut ws, Duration::from_millis(600)).await {
        let kind = m.get("e").and_then(Value::as_str).map_or_else(
            || {
                if m.get("lastUpdateId").is_some() {
                    "partial".to_string()
                } else {
                    "bookTicker".to_string()
                }
            },
            str::to_string,
        );
        got.entry(kind).or_default().push(m);
    }
    let last1 = e1.events.last().unwrap().seq;
    let last2 = e2.events.last().unwrap().seq;
    let trade = &got["trade"][0];
    let t = trade.as_object().unwrap();
    assert_eq!(
        t.keys().cloned().collect::<Vec<_>>(),
        ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
    );
    assert_eq!(
        (&t["s"], &t["p"], &t["q"]),
        (
            &json!("BTCUSDT"),
            &json!("100.00000000"),
            &json!("0.00002000")
        )
    );
    assert_eq!(
        (&t["t"], &t["m"], &t["M"]),
        (&json!(1), &json!(false), &json!(true))
    );
    assert_eq!(t["T"], json!(e2.ts_ms));
    let diffs = &got["depthUpdate"];
    assert_eq!(diffs.len(), 2);
    assert_eq!(diffs[0]["a"], json!([["100.00000000", "0.00005000"]]));
    assert_eq!(diffs[0]["u"], json!(last1));
    assert_eq!(diffs[1]["U"], json!(last1 + 1));
    assert_eq!(diffs[1]["u"], json!(last2));
    assert_eq!(diffs[1]["a"], json!([["100.00000000", "0.00003000"]]));
    assert_eq!(diffs[1]["b"], json!([]));
    let bt = &got["bookTicker"];
    assert_eq!(
        bt.last().unwrap(),
        &json!({"u": last2, "s": "BTCUSDT", "b": "0.00000000", "B": "0.00000000", "a": "100.00000000", "A": "0.00003000"})
    );
    let partial = got["partial"].last().unwrap();
    assert_eq!(
        partial,
        &json!({"lastUpdateId": last2, "bids": [], "asks": [["100.00000000", "0.00003000"]]})
    );
    // REST agrees.
    let (_, trades) = http_get(x.addr(), "/api/v3/trades?symbol=BTCUSDT").await;
    assert_eq!(
        trades,
        json!([{"id": 1, "price": "100.00000000", "qty": "0.00002000", "quoteQty": "0.00200000",
                "time": e2.ts_ms, "isBuyerMaker": false, "isBestMatch": true}])
    );
    let (status, err) = http_get(x.addr(), "/api/v3/depth?symbol=NOPE").await;
    assert_eq!(
        (status, err),
        (400, json!({"code": -1121, "msg": "Invalid symbol."}))
    );
    let (status, err) = http_get(x.addr(), "/api/v3/depth").await;
    assert_eq!(status, 400);
    assert_eq!(err["code"], -1102);
    let (status, err) = http_get(x.addr(), "/api/v3/klines?symbol=BTCUSDT&interval=2m").await;
    assert_eq!(
        (status, err),
        (400, json!({"code": -1120, "msg": "Invalid interval."}))
    );
    let (status, info) = http_get(x.addr(), "/api/v3/exchangeInfo?symbol=ETHBTC").await;
    assert_eq!(status, 200);
    assert_eq!(info["symbols"][0]["symbol"], "ETHBTC");
    let (_, t24) = http_get(x.addr(), "/api/v3/ticker/24hr?symbol=BTCUSDT").await;
    assert_eq!(
        (
            &t24["lastPrice"],
            &t24["count"],
            &t24["volume"],
            &t24["firstId"],
            &t24["askQty"]
        ),
        (
            &json!("100.00000000"),
            &json!(1),
            &json!("0.00002000"),
            &json!(1),
            &json!("0.00003000")
        )
    );
    let (_, all) = http_get(x.addr(), "/api/v3/ticker/24hr").await;
    assert_eq!(all.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kline_stream_closes_on_time_with_and_without_trades() {
    let x = Exchange::start(MdPushConfig::default()).await;
    let mut ws = ws(x.addr(), "/ws/btcusdt@kline_1s").await;
    x.handle
        .submit(limit(1, Side::Sell, 10_000, 5, "s1"))
        .await
        .unwrap();
    let traded = x
        .handle
        .submit(limit(2, Side::Buy, 10_000, 2, "b1"))
        .await
        .unwrap();
    let open = traded.ts_ms / 1000 * 1000;
    let mut closed: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while closed.len() < 2 && tokio::time::Instant::now() < deadline {
        let Some(m) = next_json(&mut ws, Duration::from_secs(3)).await else {
            break;
        };
        let k = &m["k"];
        if k["x"] == json!(true) && k["t"].as_u64().unwrap() >= open {
            closed.push(k.clone());
        }
    }
    assert_eq!(
        closed.len(),
        2,
        "the traded second and the empty one after it both close"
    );
    let k = &closed[0];
    assert_eq!(k["t"], json!(open));
    assert_eq!(k["T"], json!(open + 999));
    assert_eq!(
        (&k["i"], &k["f"], &k["L"], &k["n"]),
        (&json!("1s"), &json!(1), &json!(1), &json!(1))
    );
    assert_eq!(
        (&k["o"], &k["c"], &k["v"], &k["V"]),
        (
            &json!("100.00000000"),
            &json!("100.00000000"),
            &json!("0.00002000"),
            &json!("0.00002000")
        )
    );
    let e = &closed[1];
    assert_eq!(e["t"], json!(open + 1000));
    assert_eq!(
        (&e["f"], &e["L"], &e["n"], &e["o"], &e["v"]),
        (
            &json!(-1),
            &json!(-1),
            &json!(0),
            &json!("100.00000000"),
            &json!("0.00000000")
        )
    );
}

/// The straightforward recomputation: trades grouped by interval open time.
fn recompute(events: &[Event], symbol: u32, interval: kline::Interval) -> Vec<Value> {
    let mut groups: BTreeMap<u64, Vec<(&matcher::Trade, u64)>> = BTreeMap::new();
    for e in events {
        if let EventKind::Trade(t) = &e.kind {
            if t.symbol.0 == symbol {
                groups
                    .entry(interval.open_time(e.ts_ms))
                    .or_default()
                    .push((t, e.ts_ms));
            }
        }
    }
    let dec = |u: u128| format!("{}.{:08}", u / 100_000_000, u % 100_000_000);
    let price = |ticks: u64| dec(u128::from(ticks) * 1_000_000);
    let lots = |l: u128| dec(l * 1_000);
    groups
        .into_iter()
        .map(|(open, ts)| {
            let prices: Vec<u64> = ts.iter().map(|(t, _)| t.price).collect();
            let buys: Vec<_> = ts
                .iter()
                .filter(|(t, _)| t.taker_side == Side::Buy)
                .collect();
            json!([
                open,
                price(prices[0]),
                price(*prices.iter().max().unwrap()),
                price(*prices.iter().min().unwrap()),
                price(*prices.last().unwrap()),
                lots(ts.iter().map(|(t, _)| u128::from(t.qty)).sum()),
                interval.close_time(open),
                dec(ts.iter().map(|(t, _)| t.quote_qty).sum()),
                ts.len(),
                lots(buys.iter().map(|(t, _)| u128::from(t.qty)).sum()),
                dec(buys.iter().map(|(t, _)| t.quote_qty).sum()),
                "0",
            ])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_klines_equal_a_recomputation_from_the_journal() {
    let x = Exchange::start(MdPushConfig::default()).await;
    let mut flow = Flow::new(5);
    // Trading for at least three seconds (the one-second check below needs three candles
    // however fast the flow itself runs).
    for _ in 0..12 {
        x.run_flow(&mut flow, 250).await;
        tokio::time::sleep(Duration::from_millis(260)).await;
    }
    x.wait_md_caught_up().await;
    // Every trade, read back from the events journal.
    let last = x.last_event_seq().await;
    let mut reader = x.handle.events_journal().reader(1).unwrap();
    let mut events = Vec::new();
    while events.len() < last as usize {
        let r = reader.next().await.unwrap();
        events.push(matcher::codec::decode_event(&r.payload).unwrap());
    }
    let mut checked = 0;
    for (id, name) in SYMBOLS {
        for interval in ["1s", "1m", "3m", "1h", "1d", "3d", "1w", "1M"] {
            let i = kline::Interval::parse(interval).unwrap();
            let want = recompute(&events, id, i);
            assert!(!want.is_empty());
            if interval == "1s" {
                // The session spans more than two seconds.
                assert!(want.len() >= 3, "{name}: {} one-second candles", want.len());
            }
            let (status, got) = http_get(
                x.addr(),
                &format!("/api/v3/klines?symbol={name}&interval={interval}&limit=1000"),
            )
            .await;
            assert_eq!(status, 200);
            let want_tail: Vec<Value> = want.iter().rev().take(1000).rev().cloned().collect();
            assert_eq!(got, Value::Array(want_tail), "{name} {interval}");
            checked += want.len();
            // startTime / endTime select by open time.
            if want.len() >= 3 {
                let (a, b) = (want[1][0].as_u64().unwrap(), want[2][0].as_u64().unwrap());
                let (_, got) = http_get(
                    x.addr(),
                    &format!("/api/v3/klines?symbol={name}&interval={interval}&startTime={a}&endTime={b}"),
                )
                .await;
                assert_eq!(got, json!([want[1], want[2]]), "{name} {interval} range");
            }
        }
    }
    assert!(checked >= SYMBOLS.len() * 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_and_idle_timeout() {
    let x = Exchange::start(MdPushConfig {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
        ..MdPushConfig::default()
    })
    .await;
    // A client that reads (tungstenite answers pings with pongs) stays connected.
    let mut alive = ws(x.addr(), "/ws/btcusdt@trade").await;
    // A client that never reads never answers a ping: closed as idle.
    let mut silent = ws(x.addr(), "/ws/btcusdt@trade").await;
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(900);
    while tokio::time::Instant::now() < until {
        if let Ok(Some(Ok(m))) = tokio::time::timeout(
            Duration::from_millis(50),
            futures_util::StreamExt::next(&mut alive),
        )
        .await
        {
            if matches!(m, Message::Ping(_)) {
                pings += 1;
            }
        }
    }
    assert!(pings >= 3, "pings every 100 ms: {pings}");
    let mut close = None;
    while let Ok(Some(m)) = tokio::time::timeout(
        Duration::from_secs(2),
        futures_util::StreamExt::next(&mut silent),
    )
    .await
    {
        if let Ok(Message::Close(f)) = m {
            close = f.map(|f| (u16::from(f.code), f.reason.to_string()));
            break;
        }
    }
    assert_eq!(close, Some((1001, "idle timeout".to_string())));
    // The reading client is still served.
    x.handle
        .submit(limit(1, Side::Sell, 10_000, 5, "s1"))
        .await
        .unwrap();
    x.handle
        .submit(limit(2, Side::Buy, 10_000, 2, "b1"))
        .await
        .unwrap();
    let t = next_json(&mut alive, Duration::from_secs(5)).await.unwrap();
    assert_eq!(t["e"], "trade");
}
