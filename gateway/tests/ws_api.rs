//! The WebSocket API over real connections to a real node: order flows with exact responses,
//! bad input, authentication, isolation between accounts, rate limits, pushes and the
//! connection limits.
#![allow(clippy::unwrap_used)]

mod common;

use common::{code, TestExchange, ALICE, BOB};
use gateway::server::GatewayConfig;
use serde_json::{json, Value};

/// Replaces the values of time fields (which depend on the clock) with 0, recursively.
fn normalize(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if matches!(
                        k.as_str(),
                        "transactTime" | "workingTime" | "time" | "updateTime" | "serverTime"
                    ) && x.is_number()
                    {
                        *x = json!(0);
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

fn limit(side: &str, price: &str, qty: &str, coid: &str) -> Value {
    json!({
        "symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC",
        "price": price, "quantity": qty, "newClientOrderId": coid,
    })
}

async fn exchange() -> TestExchange {
    TestExchange::start(GatewayConfig::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn place_fill_and_cancel_with_exact_responses() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let mut bob = ex.client(BOB).await;

    // A resting sell, RESULT.
    let mut p = limit("SELL", "30000.00", "0.01000", "ask-1");
    p["newOrderRespType"] = json!("RESULT");
    let r = alice.signed("order.place", p).await;
    assert_eq!(r["status"], 200, "{r}");
    let ask_id = r["result"]["orderId"].as_u64().unwrap();
    assert_eq!(
        normalize(r["result"].clone()),
        json!({
            "symbol": "BTCUSDT", "orderId": ask_id, "orderListId": -1, "clientOrderId": "ask-1",
            "transactTime": 0, "price": "30000.00000000", "origQty": "0.01000000",
            "executedQty": "0.00000000", "origQuoteOrderQty": "0.00000000",
            "cummulativeQuoteQty": "0.00000000", "status": "NEW", "timeInForce": "GTC",
            "type": "LIMIT", "side": "SELL", "workingTime": 0,
            "selfTradePreventionMode": "NONE",
        })
    );
    // rateLimits: request weight and the two order limits.
    let kinds: Vec<_> = r["rateLimits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rateLimitType"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![json!("REQUEST_WEIGHT"), json!("ORDERS"), json!("ORDERS")]
    );

    // A crossing buy from Bob, FULL (the default for LIMIT): one fill at the maker's price.
    let r = bob
        .signed("order.place", limit("BUY", "30100.00", "0.00400", "bid-1"))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let res = normalize(r["result"].clone());
    assert_eq!(res["status"], "FILLED");
    assert_eq!(res["executedQty"], "0.00400000");
    assert_eq!(res["cummulativeQuoteQty"], "120.00000000");
    assert_eq!(
        res["fills"],
        json!([{ "price": "30000.00000000", "qty": "0.00400000", "commission": "0.12000000",
                 "commissionAsset": "USDT", "tradeId": 1 }])
    );

    // Alice's order is partly filled; order.status shows it.
    let r = alice
        .signed(
            "order.status",
            json!({"symbol": "BTCUSDT", "orderId": ask_id}),
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["result"]["status"], "PARTIALLY_FILLED");
    assert_eq!(r["result"]["executedQty"], "0.00400000");
    assert_eq!(r["result"]["origQty"], "0.01000000");
    assert_eq!(r["result"]["clientOrderId"], "ask-1");

    // openOrders.status lists exactly it.
    let r = alice
        .signed("openOrders.status", json!({"symbol": "BTCUSDT"}))
        .await;
    let open = r["result"].as_array().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["orderId"], ask_id);

    // Cancel by client order id.
    let r = alice
        .signed(
            "order.cancel",
            json!({"symbol": "BTCUSDT", "origClientOrderId": "ask-1", "newClientOrderId": "cxl-1"}),
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(
        normalize(r["result"].clone()),
        json!({
            "symbol": "BTCUSDT", "origClientOrderId": "ask-1", "orderId": ask_id,
            "orderListId": -1, "clientOrderId": "cxl-1", "transactTime": 0,
            "price": "30000.00000000", "origQty": "0.01000000", "executedQty": "0.00400000",
            "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "120.00000000",
            "status": "CANCELED", "timeInForce": "GTC", "type": "LIMIT", "side": "SELL",
            "selfTradePreventionMode": "NONE",
        })
    );
    // Cancelling again: -2011 Unknown order sent.
    let r = alice
        .signed(
            "order.cancel",
            json!({"symbol": "BTCUSDT", "orderId": ask_id}),
        )
        .await;
    assert_eq!((r["status"].as_u64(), code(&r)), (Some(400), -2011), "{r}");
    assert_eq!(r["error"]["msg"], "Unknown order sent.");

    // Balances: Alice sold 0.004 BTC at 30000 and paid 0.1% of 120 USDT.
    let r = alice.signed("account.status", json!({})).await;
    let balances = r["result"]["balances"].as_array().unwrap().clone();
    let btc = balances.iter().find(|b| b["asset"] == "BTC").unwrap();
    let usdt = balances.iter().find(|b| b["asset"] == "USDT").unwrap();
    assert_eq!(btc["free"], "9.99600000");
    assert_eq!(btc["locked"], "0.00000000");
    assert_eq!(usdt["free"], "1000119.88000000");
    assert_eq!(r["result"]["uid"], ALICE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_replace_and_cancel_all() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let r = alice
        .signed("order.place", limit("BUY", "20000.00", "0.01000", "b1"))
        .await;
    let id1 = r["result"]["orderId"].as_u64().unwrap();

    // Replace with a new price: the old order is cancelled, a new one placed.
    let mut p = limit("BUY", "20001.00", "0.02000", "b2");
    p["cancelReplaceMode"] = json!("STOP_ON_FAILURE");
    p["cancelOrderId"] = json!(id1);
    let r = alice.signed("order.cancelReplace", p).await;
    assert_eq!(r["status"], 200, "{r}");
    let res = &r["result"];
    assert_eq!(res["cancelResult"], "SUCCESS");
    assert_eq!(res["newOrderResult"], "SUCCESS");
    assert_eq!(res["cancelResponse"]["orderId"], id1);
    assert_eq!(res["cancelResponse"]["status"], "CANCELED");
    assert_eq!(res["newOrderResponse"]["clientOrderId"], "b2");
    assert_eq!(res["newOrderResponse"]["price"], "20001.00000000");
    let id2 = res["newOrderResponse"]["orderId"].as_u64().unwrap();
    assert!(id2 > id1);

    // Replacing an unknown order with STOP_ON_FAILURE: -2022, neither half done.
    let mut p = limit("BUY", "20002.00", "0.01000", "b3");
    p["cancelReplaceMode"] = json!("STOP_ON_FAILURE");
    p["cancelOrderId"] = json!(999_999);
    let r = alice.signed("order.cancelReplace", p).await;
    assert_eq!(code(&r), -2022, "{r}");
    assert_eq!(r["error"]["data"]["cancelResult"], "FAILURE");
    assert_eq!(r["error"]["data"]["newOrderResult"], "NOT_ATTEMPTED");
    assert_eq!(r["error"]["data"]["cancelResponse"]["code"], -2011);

    // ALLOW_FAILURE: the cancel fails, the new order is placed: -2021.
    let mut p = limit("BUY", "20003.00", "0.01000", "b4");
    p["cancelReplaceMode"] = json!("ALLOW_FAILURE");
    p["cancelOrderId"] = json!(999_999);
    let r = alice.signed("order.cancelReplace", p).await;
    assert_eq!(code(&r), -2021, "{r}");
    assert_eq!(r["error"]["data"]["newOrderResult"], "SUCCESS");

    // Cancel-all cancels the two open orders.
    let r = alice
        .signed("openOrders.cancelAll", json!({"symbol": "BTCUSDT"}))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let cancelled: Vec<u64> = r["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderId"].as_u64().unwrap())
        .collect();
    assert_eq!(cancelled.len(), 2, "{r}");
    assert!(cancelled.contains(&id2));
    let r = alice.signed("openOrders.status", json!({})).await;
    assert_eq!(r["result"], json!([]));
    // Nothing left: -2011.
    let r = alice
        .signed("openOrders.cancelAll", json!({"symbol": "BTCUSDT"}))
        .await;
    assert_eq!(code(&r), -2011, "{r}");
}

/// Pipelined requests reach the node in the order sent: a burst of placements, a query, more
/// placements, a cancel-all and another query, written without waiting for answers (the
/// session handles frames already read in one go): each query sees exactly the orders sent
/// before it, and the answers come back in request order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_keep_their_order() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let mut ids = Vec::new();
    let mut frame = |alice: &mut common::Client, method: &str, params: Value| {
        let id = format!("p{}", ids.len());
        ids.push(id.clone());
        let params = alice.sign(params);
        json!({"id": id, "method": method, "params": params}).to_string()
    };
    let mut frames = Vec::new();
    for range in [0..6, 6..9] {
        for i in range {
            let price = format!("{}.00", 20_000 + i);
            let coid = format!("q{i}");
            let place = limit("BUY", &price, "0.01000", &coid);
            frames.push(frame(&mut alice, "order.place", place));
        }
        let status = json!({"symbol": "BTCUSDT"});
        frames.push(frame(&mut alice, "openOrders.status", status));
    }
    frames.push(frame(
        &mut alice,
        "openOrders.cancelAll",
        json!({"symbol": "BTCUSDT"}),
    ));
    frames.push(frame(
        &mut alice,
        "openOrders.status",
        json!({"symbol": "BTCUSDT"}),
    ));
    for f in frames {
        alice.send_text(f).await;
    }
    let mut answers = Vec::new();
    for _ in 0..ids.len() {
        answers.push(alice.next_frame().await);
    }
    let order: Vec<&str> = answers.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let open = |a: &Value| {
        let mut c: Vec<String> = a["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{a}"))
            .iter()
            .map(|o| o["clientOrderId"].as_str().unwrap().to_string())
            .collect();
        c.sort();
        c
    };
    let names = |n: usize| (0..n).map(|i| format!("q{i}")).collect::<Vec<_>>();
    assert_eq!(open(&answers[6]), names(6));
    assert_eq!(open(&answers[10]), names(9));
    assert_eq!(
        answers[11]["result"].as_array().map(Vec::len),
        Some(9),
        "{}",
        answers[11]
    );
    assert_eq!(open(&answers[12]), Vec::<String>::new());
}

/// Every bad input is answered with its Binance code, journals nothing and leaves the
/// connection usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_never_journaled() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let before = ex.journaled();
    let base = limit("BUY", "20000.00", "0.01000", "ok");
    let with = |k: &str, v: Value| {
        let mut p = base.clone();
        p[k] = v;
        p
    };
    let without = |k: &str| {
        let mut p = base.clone();
        p.as_object_mut().unwrap().remove(k);
        p
    };
    let cases: Vec<(&str, Value, i64)> = vec![
        (
            "price off the tick",
            with("price", json!("20000.001")),
            -1013,
        ),
        (
            "quantity off the lot",
            with("quantity", json!("0.000011")),
            -1013,
        ),
        (
            "notional below the minimum",
            with("quantity", json!("0.00001")),
            -1013,
        ),
        ("unknown symbol", with("symbol", json!("DOGEUSDT")), -1121),
        ("halted symbol", with("symbol", json!("ETHUSDT")), -2010),
        ("missing quantity", without("quantity"), -1102),
        ("missing side", without("side"), -1102),
        ("bad side", with("side", json!("SIDEWAYS")), -1117),
        ("bad type", with("type", json!("BOGUS")), -1116),
        (
            "bad time in force",
            with("timeInForce", json!("GTX")),
            -1115,
        ),
        ("negative price", with("price", json!("-1")), -1100),
        ("garbage quantity", with("quantity", json!("1e3")), -1100),
        (
            "too many decimals",
            with("price", json!("1.123456789")),
            -1111,
        ),
        (
            "bad client id",
            with("newClientOrderId", json!("has space")),
            -1100,
        ),
        ("unknown parameter", with("icebergQtyX", json!("1")), -1104),
        (
            "stop price on a LIMIT order",
            with("stopPrice", json!("1")),
            -1106,
        ),
    ];
    for (what, params, expected) in cases {
        let r = alice.signed("order.place", params).await;
        assert_eq!(code(&r), expected, "{what}: {r}");
        assert!(
            r["error"]["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {r}"
        );
    }
    // The halted symbol's refusal names the cause, as Binance's does.
    let r = alice
        .signed("order.place", with("symbol", json!("ETHUSDT")))
        .await;
    assert_eq!(r["error"]["msg"], "Market is closed.", "{r}");

    // Envelope errors.
    for (text, expected) in [
        ("{not json", -1135),
        ("[1,2]", -1135),
        (r#"{"id":1,"method":"order.explode","params":{}}"#, -1020),
        (r#"{"id":1,"params":{}}"#, -1102),
        (r#"{"id":1,"method":"ping","params":[1]}"#, -1135),
    ] {
        alice.send_text(text.to_string()).await;
        let r = alice.next_frame().await;
        assert_eq!(code(&r), expected, "{text}: {r}");
    }
    // A parameter on a method that takes none.
    let r = alice.call("ping", json!({"x": 1})).await;
    assert_eq!(code(&r), -1104, "{r}");

    assert_eq!(
        ex.journaled(),
        before,
        "an invalid request reached the journal"
    );
    // The connection is still up and works.
    let r = alice.call("ping", json!({})).await;
    assert_eq!(r["result"], json!({}));
    let r = alice.call("time", json!({})).await;
    assert!(r["result"]["serverTime"].as_u64().unwrap() > 1_600_000_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_timestamps_and_keys_are_checked() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let before = ex.journaled();
    // A signature made with the wrong secret.
    let mut p = alice.sign(limit("BUY", "20000.00", "0.01000", "x1"));
    p["signature"] = json!("00".repeat(32));
    let r = alice.call("order.place", p).await;
    assert_eq!((r["status"].as_u64(), code(&r)), (Some(400), -1022), "{r}");
    // A parameter changed after signing.
    let mut p = alice.sign(limit("BUY", "20000.00", "0.01000", "x2"));
    p["quantity"] = json!("0.02000");
    assert_eq!(code(&alice.call("order.place", p).await), -1022);
    // A stale timestamp (older than recvWindow) and one from the future.
    let mut p = limit("BUY", "20000.00", "0.01000", "x3");
    p["timestamp"] = json!(common::now_ms() - 60_000);
    assert_eq!(code(&alice.signed("order.place", p).await), -1021);
    let mut p = limit("BUY", "20000.00", "0.01000", "x4");
    p["timestamp"] = json!(common::now_ms() + 5_000);
    assert_eq!(code(&alice.signed("order.place", p).await), -1021);
    // An unknown API key.
    let mut p = limit("BUY", "20000.00", "0.01000", "x5");
    p["apiKey"] = json!("A".repeat(64));
    assert_eq!(code(&alice.signed("order.place", p).await), -2015);
    // No signature on a session that has not logged on.
    let mut p = limit("BUY", "20000.00", "0.01000", "x6");
    p["apiKey"] = json!(alice.api_key.clone());
    p["timestamp"] = json!(common::now_ms());
    assert_eq!(code(&alice.call("order.place", p).await), -1102);
    assert_eq!(ex.journaled(), before);

    // session.logon, then unsigned requests work, and session.status says who.
    let r = alice.signed("session.logon", json!({})).await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["result"]["apiKey"], json!(alice.api_key.clone()));
    let mut p = limit("BUY", "20000.00", "0.01000", "x7");
    p["timestamp"] = json!(common::now_ms());
    let r = alice.call("order.place", p).await;
    assert_eq!(r["status"], 200, "{r}");
    let r = alice.call("session.logout", json!({})).await;
    assert_eq!(r["result"]["apiKey"], Value::Null);
    let mut p = limit("BUY", "20000.00", "0.01000", "x8");
    p["timestamp"] = json!(common::now_ms());
    assert_eq!(code(&alice.call("order.place", p).await), -1102);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_orders_are_untouchable() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let mut bob = ex.client(BOB).await;
    let r = alice
        .signed("order.place", limit("BUY", "20000.00", "0.01000", "mine"))
        .await;
    let id = r["result"]["orderId"].as_u64().unwrap();
    // Bob can neither see nor cancel nor replace it, by id or by client id.
    let r = bob
        .signed("order.status", json!({"symbol": "BTCUSDT", "orderId": id}))
        .await;
    assert_eq!(code(&r), -2013, "{r}");
    let r = bob
        .signed(
            "order.status",
            json!({"symbol": "BTCUSDT", "origClientOrderId": "mine"}),
        )
        .await;
    assert_eq!(code(&r), -2013, "{r}");
    let r = bob
        .signed("order.cancel", json!({"symbol": "BTCUSDT", "orderId": id}))
        .await;
    assert_eq!(code(&r), -2011, "{r}");
    let mut p = limit("BUY", "1.00", "5.00000", "steal");
    p["cancelReplaceMode"] = json!("STOP_ON_FAILURE");
    p["cancelOrderId"] = json!(id);
    let r = bob.signed("order.cancelReplace", p).await;
    assert_eq!(code(&r), -2022, "{r}");
    let r = bob.signed("openOrders.status", json!({})).await;
    assert_eq!(r["result"], json!([]));
    assert_eq!(
        code(
            &bob.signed("openOrders.cancelAll", json!({"symbol": "BTCUSDT"}))
                .await
        ),
        -2011
    );
    // Alice's order is intact.
    let r = alice
        .signed("order.status", json!({"symbol": "BTCUSDT", "orderId": id}))
        .await;
    assert_eq!(r["result"]["status"], "NEW");
    assert_eq!(r["result"]["executedQty"], "0.00000000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_rate_limits_per_connection_and_account() {
    let ex = TestExchange::start(GatewayConfig {
        orders_per_10s: 5,
        ..GatewayConfig::default()
    })
    .await;
    let mut alice = ex.client(ALICE).await;
    // Windows are fixed 10 s windows (as Binance's): start well inside one.
    let into = common::now_ms() % 10_000;
    if into > 6_000 {
        tokio::time::sleep(std::time::Duration::from_millis(10_100 - into)).await;
    }
    let mut seen = Vec::new();
    for i in 0..7 {
        let r = alice
            .signed(
                "order.place",
                limit("BUY", "20000.00", "0.01000", &format!("r{i}")),
            )
            .await;
        seen.push(r.get("error").map_or(0, |e| e["code"].as_i64().unwrap()));
        if i == 6 {
            assert_eq!(r["status"], 429, "{r}");
            let orders = r["rateLimits"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["rateLimitType"] == "ORDERS" && l["intervalNum"] == 10)
                .unwrap()
                .clone();
            assert_eq!(
                (orders["limit"].clone(), orders["count"].clone()),
                (json!(5), json!(5))
            );
        }
    }
    assert_eq!(seen, vec![0, 0, 0, 0, 0, -1015, -1015]);
    // The same account on a second connection shares the account's window.
    let mut again = ex.client(ALICE).await;
    let r = again
        .signed("order.place", limit("BUY", "20000.00", "0.01000", "r9"))
        .await;
    assert_eq!(code(&r), -1015, "{r}");
    // Another account is not limited by Alice's orders.
    let mut bob = ex.client(BOB).await;
    let r = bob
        .signed("order.place", limit("BUY", "20000.00", "0.01000", "b9"))
        .await;
    assert_eq!(r["status"], 200, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_stream_pushes_execution_reports() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let mut bob = ex.client(BOB).await;
    let r = alice.signed("session.logon", json!({})).await;
    assert_eq!(r["status"], 200, "{r}");
    let r = alice
        .call(
            "userDataStream.subscribe",
            json!({"timestamp": common::now_ms()}),
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let sub = r["result"]["subscriptionId"].clone();
    alice
        .signed("order.place", limit("SELL", "30000.00", "0.01000", "s1"))
        .await;
    bob.signed("order.place", limit("BUY", "30000.00", "0.01000", "b1"))
        .await;
    // NEW, then TRADE (FILLED), with balance updates between.
    let mut reports = Vec::new();
    while reports.len() < 2 {
        let p = alice.push().await;
        assert_eq!(p["subscriptionId"], sub, "{p}");
        if p["event"]["e"] == "executionReport" {
            reports.push(p["event"].clone());
        } else {
            assert_eq!(p["event"]["e"], "outboundAccountPosition", "{p}");
        }
    }
    assert_eq!(
        (reports[0]["x"].clone(), reports[0]["X"].clone()),
        (json!("NEW"), json!("NEW"))
    );
    assert_eq!(
        (reports[1]["x"].clone(), reports[1]["X"].clone()),
        (json!("TRADE"), json!("FILLED"))
    );
    assert_eq!(reports[1]["c"], "s1");
    assert_eq!(reports[1]["L"], "30000.00000000");
    assert_eq!(reports[1]["m"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_all_after_cancels_when_not_refreshed() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let r = alice
        .signed("order.place", limit("BUY", "20000.00", "0.01000", "d1"))
        .await;
    let id = r["result"]["orderId"].as_u64().unwrap();
    let r = alice
        .signed("order.cancelAllAfter", json!({"countdownTime": 300}))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    assert!(r["result"]["triggerTime"].as_u64().unwrap() > 0);
    // Disarmed and re-armed: only the last countdown counts.
    let r = alice
        .signed("order.cancelAllAfter", json!({"countdownTime": 0}))
        .await;
    assert_eq!(r["result"]["triggerTime"], 0);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let r = alice
        .signed("order.status", json!({"symbol": "BTCUSDT", "orderId": id}))
        .await;
    assert_eq!(r["result"]["status"], "NEW", "disarmed timer fired: {r}");
    // Re-armed many times: one countdown, from the last call.
    for _ in 0..50 {
        alice
            .signed("order.cancelAllAfter", json!({"countdownTime": 400}))
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let r = alice
        .signed("order.status", json!({"symbol": "BTCUSDT", "orderId": id}))
        .await;
    assert_eq!(
        r["result"]["status"], "NEW",
        "fired before the last countdown: {r}"
    );
    alice
        .signed("order.cancelAllAfter", json!({"countdownTime": 200}))
        .await;
    // The connection goes away: the countdown still runs (cancel on disconnect).
    drop(alice);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let mut alice = ex.client(ALICE).await;
    let r = alice
        .signed("order.status", json!({"symbol": "BTCUSDT", "orderId": id}))
        .await;
    assert_eq!(r["result"]["status"], "CANCELED", "{r}");
    let r = alice
        .signed("order.cancelAllAfter", json!({"countdownTime": 5}))
        .await;
    assert_eq!(code(&r), -1130, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_message_size_limits() {
    let ex = TestExchange::start(GatewayConfig {
        max_connections: 2,
        max_message_bytes: 4096,
        ..GatewayConfig::default()
    })
    .await;
    let mut a = ex.client(ALICE).await;
    let _b = ex.client(BOB).await;
    // A third connection is refused before the upgrade.
    let third = tokio_tungstenite::connect_async(ex.url()).await;
    match third {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 503),
        other => panic!("third connection: {other:?}"),
    }
    // An oversized frame closes the connection (abuse), code 1009.
    let big = format!(
        r#"{{"id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(8192)
    );
    a.send_text(big).await;
    use futures_util::StreamExt;
    let mut closed = false;
    while let Ok(Some(msg)) =
        tokio::time::timeout(std::time::Duration::from_secs(5), a.ws.next()).await
    {
        match msg {
            Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f))) => {
                assert_eq!(u16::from(f.code), 1009);
                closed = true;
                break;
            }
            Ok(_) => continue,
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "oversized frame did not close the connection");
    // The slot is free again.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut c = ex.client(ALICE).await;
    assert_eq!(c.call("ping", json!({})).await["status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_info_and_metrics() {
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let r = alice
        .call("exchangeInfo", json!({"symbol": "BTCUSDT"}))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let s = &r["result"]["symbols"][0];
    assert_eq!(s["symbol"], "BTCUSDT");
    let filters = s["filters"].as_array().unwrap();
    let price = filters
        .iter()
        .find(|f| f["filterType"] == "PRICE_FILTER")
        .unwrap();
    assert_eq!(price["tickSize"], "0.01000000");
    let lot = filters
        .iter()
        .find(|f| f["filterType"] == "LOT_SIZE")
        .unwrap();
    assert_eq!(lot["stepSize"], "0.00001000");
    assert_eq!(
        code(&alice.call("exchangeInfo", json!({"symbol": "NOPE"})).await),
        -1121
    );
    alice
        .signed("order.place", limit("BUY", "20000.00", "0.01000", "m1"))
        .await;
    let body = reqwest_like_get(ex.addr, "/metrics").await;
    assert!(body.contains("exchange_orders_accepted_total 1"), "{body}");
    assert!(body.contains("exchange_ws_connections 1"), "{body}");
    assert!(
        body.contains("exchange_journal_fdatasync_seconds_bucket"),
        "{body}"
    );
}

/// A minimal HTTP/1.1 GET over a raw socket (no HTTP client dependency for one test).
async fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// A client that stops reading is disconnected once its outbound queue stays full; a client
/// that reads while it sends a burst larger than the queue is served in full, and another
/// client on the same server is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_alone() {
    use futures_util::{SinkExt, StreamExt};
    use std::sync::atomic::Ordering;
    use tokio_tungstenite::tungstenite::Message;
    let ex = TestExchange::start(GatewayConfig {
        outbound_queue: 256,
        max_in_flight: 128,
        slow_client_timeout: std::time::Duration::from_millis(500),
        request_weight_per_minute: u64::MAX / 2,
        ..GatewayConfig::default()
    })
    .await;
    // A burst larger than the outbound queue from a client that reads while it sends is
    // served in full.
    let request = json!({"id": 1, "method": "exchangeInfo", "params": {}}).to_string();
    let burst = ex.client(BOB).await;
    let (mut tx, mut rx) = burst.ws.split();
    let reader = tokio::spawn(async move {
        let mut ok = 0;
        while ok < 600 {
            match rx.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    assert_eq!(v["status"], 200);
                    ok += 1;
                }
                Some(Ok(_)) => {}
                other => panic!("burst connection ended: {other:?}"),
            }
        }
    });
    for _ in 0..600 {
        tx.send(Message::Text(request.clone().into()))
            .await
            .unwrap();
    }
    reader.await.unwrap();
    let mut fast = ex.client(BOB).await;
    let cut = &ex.gateway.metrics.slow_consumers_cut;
    assert_eq!(cut.load(Ordering::Relaxed), 0);
    let slow = ex.client(ALICE).await;
    let (mut sink, mut stream) = slow.ws.split();
    // Many requests with large answers, and no reading: the kernel's socket buffers fill,
    // then the outbound queue.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cut.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < deadline {
        let send = sink.send(Message::Text(request.clone().into()));
        match tokio::time::timeout(std::time::Duration::from_millis(200), send).await {
            Ok(Ok(())) => {}
            // The server stopped reading (in-flight cap) or dropped the connection.
            Ok(Err(_)) | Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
        // Meanwhile the fast client is served normally.
        assert_eq!(fast.call("ping", json!({})).await["status"], 200);
    }
    assert_eq!(
        cut.load(Ordering::Relaxed),
        1,
        "the slow client was not cut off"
    );
    // The slow client, reading at last, finds the end of its connection.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the slow connection was not closed");
    assert_eq!(fast.call("ping", json!({})).await["status"], 200);
}

/// The report events of one push, if it is an execution report: (orderId, x).
fn report_of(push: &Value) -> Option<(u64, String)> {
    let e = &push["event"];
    (e["e"] == "executionReport").then(|| {
        (
            e["i"].as_u64().unwrap(),
            e["x"].as_str().unwrap().to_string(),
        )
    })
}

/// A subscription starts exactly between two commands. Of one account's orders sent back to
/// back while another connection of the account subscribes: none answered before the
/// subscribe request was sent is pushed, every one sent after its answer is, the pushed ones
/// are the newest (a suffix by order id), and each report comes once. An order resting since
/// before the subscription is described in full when it trades. A subscribe and an order sent
/// together, unanswered, get the order's reports. An unsubscribed connection gets nothing
/// more while another subscription of the account goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_stream_starts_exactly_at_the_subscription() {
    use std::time::Instant;
    let ex = exchange().await;
    let mut alice = ex.client(ALICE).await;
    let mut watcher = ex.client(ALICE).await;
    let mut bob = ex.client(BOB).await;
    let r = alice
        .signed("order.place", limit("SELL", "30000.00", "0.02000", "early"))
        .await;
    let early = r["result"]["orderId"].as_u64().unwrap();
    // IOC buys far below the ask: each expires unfilled (reports NEW and EXPIRED or similar).
    let flow = tokio::spawn(async move {
        let mut orders = Vec::new();
        for i in 0..300 {
            let sent = Instant::now();
            let r = alice
                .signed(
                    "order.place",
                    json!({
                        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                        "timeInForce": "IOC", "price": "10000.00", "quantity": "0.00100",
                        "newClientOrderId": format!("f{i}"),
                    }),
                )
                .await;
            let id = r["result"]["orderId"]
                .as_u64()
                .unwrap_or_else(|| panic!("{r}"));
            orders.push((id, sent, Instant::now()));
        }
        (alice, orders)
    });
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let asked = Instant::now();
    let r = watcher
        .call("userDataStream.subscribe", watcher.sign(json!({})))
        .await;
    let answered = Instant::now();
    assert_eq!(r["status"], 200, "{r}");
    let (mut alice, orders) = flow.await.unwrap();
    assert!(
        orders.iter().any(|o| o.2 < asked) && orders.iter().any(|o| o.1 > answered),
        "the subscription did not fall inside the flow"
    );
    // Bob trades with the early order: the report after every flow order's.
    bob.signed("order.place", limit("BUY", "30000.00", "0.01000", "b1"))
        .await;
    let mut reports: Vec<(u64, String)> = Vec::new();
    let trade = loop {
        let p = watcher.push().await;
        if let Some((id, x)) = report_of(&p) {
            if id == early {
                break p["event"].clone();
            }
            reports.push((id, x));
        }
    };
    assert_eq!(trade["x"], "TRADE", "{trade}");
    assert_eq!(trade["X"], "PARTIALLY_FILLED", "{trade}");
    assert_eq!(trade["c"], "early", "{trade}");
    assert_eq!(trade["q"], "0.02000000", "{trade}");
    assert_eq!(trade["z"], "0.01000000", "{trade}");
    let mut unique = reports.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        reports.len(),
        "a report pushed twice: {reports:?}"
    );
    let pushed: std::collections::BTreeSet<u64> = reports.iter().map(|r| r.0).collect();
    let first = orders.iter().position(|o| pushed.contains(&o.0)).unwrap();
    for (n, (id, sent, done)) in orders.iter().enumerate() {
        assert_eq!(
            pushed.contains(id),
            n >= first,
            "pushed orders are not a suffix"
        );
        assert!(
            *done >= asked || !pushed.contains(id),
            "order {id} answered before the subscription was pushed"
        );
        assert!(
            *sent <= answered || pushed.contains(id),
            "order {id} sent after the subscription was not pushed"
        );
    }
    // A subscribe and an order sent together.
    let mut second = ex.client(ALICE).await;
    let subscribe =
        json!({"id": "s", "method": "userDataStream.subscribe", "params": second.sign(json!({}))});
    let place = json!({"id": "p", "method": "order.place", "params": second.sign(limit("BUY", "20000.00", "0.00100", "together"))});
    second.send_text(subscribe.to_string()).await;
    second.send_text(place.to_string()).await;
    assert_eq!(second.response(json!("s")).await["status"], 200);
    let r = second.response(json!("p")).await;
    let together = r["result"]["orderId"].as_u64().unwrap();
    loop {
        if report_of(&second.push().await) == Some((together, "NEW".into())) {
            break;
        }
    }
    // The watcher leaves; the second subscription goes on alone.
    let r = watcher.call("userDataStream.unsubscribe", json!({})).await;
    assert_eq!(r["status"], 200, "{r}");
    let r = alice
        .signed(
            "order.cancel",
            json!({"symbol": "BTCUSDT", "orderId": together}),
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    loop {
        if report_of(&second.push().await) == Some((together, "CANCELED".into())) {
            break;
        }
    }
    watcher.call("ping", json!({})).await;
    assert!(
        watcher
            .pushes
            .iter()
            .all(|p| report_of(p) != Some((together, "CANCELED".into()))),
        "pushed after unsubscribing: {:?}",
        watcher.pushes
    );
}
