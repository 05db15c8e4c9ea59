//! Request JSON -> response JSON through a real engine: place, fills, status, cancel,
//! cancel-replace (every outcome shape), cancel-all, account status, user-data pushes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use api_support::*;
use gateway::api::user_data::{account_position, execution_reports, push, touched_accounts};
use matcher::{AccountId, Command};
use serde_json::{json, Value};

fn ok(id: &str, result: Value) -> String {
    json!({"id": id, "status": 200, "result": result}).to_string()
}

fn err(id: &str, status: u16, code: i32, msg: &str) -> String {
    json!({"id": id, "status": status, "error": {"code": code, "msg": msg}}).to_string()
}

fn place_limit_buy(h: &mut Harness) -> String {
    h.request(
        ALICE,
        &frame(
            "order.place",
            json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                   "price": "50000", "quantity": "0.01", "newClientOrderId": "a1",
                   "newOrderRespType": "RESULT"}),
        ),
    )
}

#[test]
fn place_fill_status_and_pushes() {
    let mut h = Harness::new();
    // Setup took seqs 1..=11; each command below takes the next one (ts = T0 + seq).
    assert_eq!(
        place_limit_buy(&mut h),
        ok(
            "r1",
            json!({"symbol": "BTCUSDT", "orderId": 1, "orderListId": -1, "clientOrderId": "a1",
                   "transactTime": T0 + 12, "price": "50000.00000000", "origQty": "0.01000000",
                   "executedQty": "0.00000000", "origQuoteOrderQty": "0.00000000",
                   "cummulativeQuoteQty": "0.00000000", "status": "NEW", "timeInForce": "GTC",
                   "type": "LIMIT", "side": "BUY", "workingTime": T0 + 12,
                   "selfTradePreventionMode": "NONE"})
        )
    );

    // Bob sells 0.004 at market (FULL by default): one fill at the maker's price; the taker
    // pays 0.2 % of 200 USDT.
    let frame_sell = frame(
        "order.place",
        json!({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.004"}),
    );
    let req = gateway::api::parse_request(&frame_sell).unwrap();
    assert_eq!(req.method, gateway::api::Method::OrderPlace);
    assert_eq!(
        h.request(BOB, &frame_sell),
        ok(
            "r1",
            json!({"symbol": "BTCUSDT", "orderId": 2, "orderListId": -1, "clientOrderId": "xabc-1",
                   "transactTime": T0 + 13, "price": "0.00000000", "origQty": "0.00400000",
                   "executedQty": "0.00400000", "origQuoteOrderQty": "0.00000000",
                   "cummulativeQuoteQty": "200.00000000", "status": "FILLED",
                   "timeInForce": "GTC", "type": "MARKET", "side": "SELL",
                   "workingTime": T0 + 13, "selfTradePreventionMode": "NONE",
                   "fills": [{"price": "50000.00000000", "qty": "0.00400000",
                              "commission": "0.40000000", "commissionAsset": "USDT",
                              "tradeId": 1}]})
        )
    );

    let status = json!({"symbol": "BTCUSDT", "orderId": 1, "orderListId": -1,
        "clientOrderId": "a1", "price": "50000.00000000", "origQty": "0.01000000",
        "executedQty": "0.00400000", "cummulativeQuoteQty": "200.00000000",
        "status": "PARTIALLY_FILLED", "timeInForce": "GTC", "type": "LIMIT", "side": "BUY",
        "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": T0 + 12,
        "updateTime": T0 + 13, "isWorking": true, "workingTime": T0 + 12,
        "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE"});
    for by in [json!({"orderId": 1}), json!({"origClientOrderId": "a1"})] {
        let mut p = json!({"symbol": "BTCUSDT"});
        p.as_object_mut()
            .unwrap()
            .extend(by.as_object().unwrap().clone());
        assert_eq!(
            h.request(ALICE, &frame("order.status", p.clone())),
            ok("r1", status.clone())
        );
        // Another account never sees it.
        assert_eq!(
            h.request(BOB, &frame("order.status", p)),
            err("r1", 400, -2013, "Order does not exist.")
        );
    }
    assert_eq!(
        h.request(ALICE, &frame("openOrders.status", json!({}))),
        ok("r1", json!([status.clone()]))
    );
    assert_eq!(
        h.request(
            ALICE,
            &frame("openOrders.status", json!({"symbol": "ETHBTC"}))
        ),
        ok("r1", json!([]))
    );
    assert_eq!(
        h.request(BOB, &frame("openOrders.status", json!({}))),
        ok("r1", json!([]))
    );

    // Another account cannot cancel it (the matcher refuses; nothing changes).
    assert_eq!(
        h.request(
            BOB,
            &frame("order.cancel", json!({"symbol": "BTCUSDT", "orderId": 1}))
        ),
        err("r1", 400, -2011, "Unknown order sent.")
    );
    assert_eq!(h.engine.open_orders(ALICE, None).len(), 1);
}

#[test]
fn user_data_pushes_for_a_trade() {
    let mut h = Harness::new();
    place_limit_buy(&mut h);
    let batch = h.run(Command::PlaceOrder(matcher::PlaceOrder {
        account: BOB,
        symbol: BTCUSDT,
        side: matcher::Side::Sell,
        order_type: matcher::OrderType::Market {
            amount: matcher::MarketAmount::Base(4),
        },
        client_order_id: matcher::ClientOrderId::new("b1").unwrap(),
        stp: matcher::StpMode::None,
    }));
    assert_eq!(touched_accounts(&batch), vec![AccountId(0), ALICE, BOB]);

    let alice = execution_reports(&batch, ALICE, &h.markets, &h.index);
    assert_eq!(alice.len(), 1);
    let r = &alice[0];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "e", "E", "s", "c", "S", "o", "f", "q", "p", "P", "F", "g", "C", "x", "X", "r", "i",
            "l", "z", "L", "n", "N", "T", "t", "I", "w", "m", "M", "O", "Z", "Y", "Q", "W", "V"
        ]
    );
    assert_eq!(
        *r,
        json!({"e": "executionReport", "E": T0 + 13, "s": "BTCUSDT", "c": "a1", "S": "BUY",
               "o": "LIMIT", "f": "GTC", "q": "0.01000000", "p": "50000.00000000",
               "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "", "x": "TRADE",
               "X": "PARTIALLY_FILLED", "r": "NONE", "i": 1, "l": "0.00400000",
               "z": "0.00400000", "L": "50000.00000000", "n": "0.20000000", "N": "USDT",
               "T": T0 + 13, "t": 1, "I": batch.events[1].seq, "w": true, "m": true, "M": false,
               "O": T0 + 12, "Z": "200.00000000", "Y": "200.00000000", "Q": "0.00000000",
               "W": T0 + 12, "V": "NONE"})
    );
    let bob = execution_reports(&batch, BOB, &h.markets, &h.index);
    let types: Vec<(&str, &str)> = bob
        .iter()
        .map(|r| (r["x"].as_str().unwrap(), r["X"].as_str().unwrap()))
        .collect();
    assert_eq!(types, [("NEW", "NEW"), ("TRADE", "FILLED")]);
    assert_eq!(bob[1]["m"], json!(false));
    assert_eq!(bob[1]["w"], json!(false));
    assert!(bob[1].get("W").is_none());
    assert_eq!(bob[1]["n"], json!("0.40000000"));

    // Alice's balances after the fill: +0.004 BTC; USDT available unchanged (99,500 - 0.5
    // reserved fee at placement), frozen = 300 remaining + 0.3 remaining maker fee.
    let pos = account_position(&batch, ALICE, &h.markets).unwrap();
    assert_eq!(
        pos,
        json!({"e": "outboundAccountPosition", "E": T0 + 13, "u": T0 + 13,
               "B": [{"a": "BTC", "f": "10.00400000", "l": "0.00000000"},
                     {"a": "USDT", "f": "99499.50000000", "l": "300.30000000"}]})
    );
    assert_eq!(
        push(3, &pos),
        format!(r#"{{"subscriptionId":3,"event":{}}}"#, pos)
    );
    assert!(account_position(&batch, AccountId(99), &h.markets).is_none());
    assert!(execution_reports(&batch, AccountId(99), &h.markets, &h.index).is_empty());
}

#[test]
fn cancel_replace_outcomes() {
    let mut h = Harness::new();
    place_limit_buy(&mut h); // seq 12, order 1 (0.01 @ 50000)
    h.request(
        BOB,
        &frame(
            "order.place",
            json!({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.004",
                   "newClientOrderId": "b1"}),
        ),
    ); // seq 13

    // Smaller quantity, same price and side: amended in place (keeps priority).
    let reply = h.reply(
        ALICE,
        &frame(
            "order.cancelReplace",
            json!({"symbol": "BTCUSDT", "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 1,
                   "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "50000",
                   "quantity": "0.005", "newClientOrderId": "a2"}),
        ),
    ); // seq 14
    assert_eq!(
        reply["result"],
        json!({"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
               "cancelResponse": {"symbol": "BTCUSDT", "origClientOrderId": "a1", "orderId": 1,
                   "orderListId": -1, "clientOrderId": "xabc-1", "transactTime": T0 + 14,
                   "price": "50000.00000000", "origQty": "0.00900000",
                   "executedQty": "0.00400000", "origQuoteOrderQty": "0.00000000",
                   "cummulativeQuoteQty": "200.00000000", "status": "PARTIALLY_FILLED",
                   "timeInForce": "GTC", "type": "LIMIT", "side": "BUY",
                   "selfTradePreventionMode": "NONE"},
               "newOrderResponse": {"symbol": "BTCUSDT", "orderId": 1, "orderListId": -1,
                   "clientOrderId": "a2", "transactTime": T0 + 14, "price": "50000.00000000",
                   "origQty": "0.00900000", "executedQty": "0.00400000",
                   "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "200.00000000",
                   "status": "PARTIALLY_FILLED", "timeInForce": "GTC", "type": "LIMIT",
                   "side": "BUY", "workingTime": T0 + 14, "selfTradePreventionMode": "NONE",
                   "fills": []}})
    );
    assert_eq!(
        h.reply(
            ALICE,
            &frame(
                "order.status",
                json!({"symbol": "BTCUSDT", "origClientOrderId": "a2"})
            )
        )["result"]["orderId"],
        json!(1)
    );

    // STOP_ON_FAILURE with an unknown order: both halves fail, the new one not attempted.
    assert_eq!(
        h.request(
            ALICE,
            &frame(
                "order.cancelReplace",
                json!({"symbol": "BTCUSDT", "cancelReplaceMode": "STOP_ON_FAILURE",
                       "cancelOrderId": 999, "side": "SELL", "type": "LIMIT",
                       "timeInForce": "GTC", "price": "60000", "quantity": "0.001"}),
            ),
        ),
        json!({"id": "r1", "status": 400, "error": {"code": -2022,
               "msg": "Order cancel-replace failed.",
               "data": {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                        "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                        "newOrderResponse": null}}})
        .to_string()
    );

    // ALLOW_FAILURE with an unknown order: the new order is placed; 409 partial failure.
    let reply = h.reply(
        ALICE,
        &frame(
            "order.cancelReplace",
            json!({"symbol": "BTCUSDT", "cancelReplaceMode": "ALLOW_FAILURE",
                   "cancelOrderId": 999, "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                   "price": "60000", "quantity": "0.001", "newClientOrderId": "a3",
                   "newOrderRespType": "ACK"}),
        ),
    ); // seq 16
    assert_eq!(
        reply,
        json!({"id": "r1", "status": 409, "error": {"code": -2021,
               "msg": "Order cancel-replace partially failed.",
               "data": {"cancelResult": "FAILURE", "newOrderResult": "SUCCESS",
                        "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                        "newOrderResponse": {"symbol": "BTCUSDT", "orderId": 3,
                            "orderListId": -1, "clientOrderId": "a3",
                            "transactTime": T0 + 16}}}})
    );

    // Cancel succeeds, the new LIMIT_MAKER would take Alice's own bid: 409 the other way.
    let reply = h.reply(
        ALICE,
        &frame(
            "order.cancelReplace",
            json!({"symbol": "BTCUSDT", "cancelReplaceMode": "STOP_ON_FAILURE",
                   "cancelOrigClientOrderId": "a3", "cancelNewClientOrderId": "c3",
                   "side": "SELL", "type": "LIMIT_MAKER", "price": "40000",
                   "quantity": "0.001"}),
        ),
    ); // seq 17
    assert_eq!(reply["status"], json!(409));
    assert_eq!(reply["error"]["code"], json!(-2021));
    let data = &reply["error"]["data"];
    assert_eq!(data["cancelResult"], json!("SUCCESS"));
    assert_eq!(data["newOrderResult"], json!("FAILURE"));
    assert_eq!(
        data["newOrderResponse"],
        json!({"code": -2010, "msg": "Order would immediately match and take."})
    );
    assert_eq!(data["cancelResponse"]["orderId"], json!(3));
    assert_eq!(data["cancelResponse"]["clientOrderId"], json!("c3"));
    assert_eq!(data["cancelResponse"]["origClientOrderId"], json!("a3"));
    assert_eq!(data["cancelResponse"]["status"], json!("CANCELED"));

    // Both halves succeed with a new order at another price: the old one is CANCELED.
    let reply = h.reply(
        ALICE,
        &frame(
            "order.cancelReplace",
            json!({"symbol": "BTCUSDT", "cancelReplaceMode": "STOP_ON_FAILURE",
                   "cancelOrderId": 1, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                   "price": "49000", "quantity": "0.002", "newOrderRespType": "RESULT"}),
        ),
    );
    assert_eq!(reply["status"], json!(200));
    assert_eq!(
        reply["result"]["cancelResponse"]["status"],
        json!("CANCELED")
    );
    assert_eq!(reply["result"]["newOrderResponse"]["orderId"], json!(4));
    assert_eq!(reply["result"]["newOrderResponse"]["status"], json!("NEW"));
    assert!(reply["result"]["newOrderResponse"].get("fills").is_none());
}

#[test]
fn cancel_cancel_all_and_account_status() {
    let mut h = Harness::new();
    place_limit_buy(&mut h); // order 1, seq 12
    h.request(
        ALICE,
        &frame(
            "order.place",
            json!({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT_MAKER",
                   "price": "70000", "quantity": "0.5", "newClientOrderId": "s1"}),
        ),
    ); // order 2, seq 13 (LIMIT_MAKER defaults to ACK)
    assert_eq!(
        h.request(
            ALICE,
            &frame(
                "order.cancel",
                json!({"symbol": "BTCUSDT", "origClientOrderId": "s1", "newClientOrderId": "k1"}),
            ),
        ),
        ok(
            "r1",
            json!({"symbol": "BTCUSDT", "origClientOrderId": "s1", "orderId": 2,
                   "orderListId": -1, "clientOrderId": "k1", "transactTime": T0 + 14,
                   "price": "70000.00000000", "origQty": "0.50000000",
                   "executedQty": "0.00000000", "origQuoteOrderQty": "0.00000000",
                   "cummulativeQuoteQty": "0.00000000", "status": "CANCELED",
                   "timeInForce": "GTC", "type": "LIMIT_MAKER", "side": "SELL",
                   "selfTradePreventionMode": "NONE"})
        )
    );
    // Both ids sent but they name different orders: refused before the matcher.
    let before = h.commands;
    assert_eq!(
        h.request(
            ALICE,
            &frame(
                "order.cancel",
                json!({"symbol": "BTCUSDT", "orderId": 1, "origClientOrderId": "s1"}),
            ),
        ),
        err("r1", 400, -2011, "Unknown order sent.")
    );
    assert_eq!(h.commands, before);
    // Cancelling again: the order is closed.
    assert_eq!(
        h.request(
            ALICE,
            &frame("order.cancel", json!({"symbol": "BTCUSDT", "orderId": 2}))
        ),
        err("r1", 400, -2011, "Unknown order sent.")
    );
    // Its status is still known (closed orders are kept).
    assert_eq!(
        h.reply(
            ALICE,
            &frame("order.status", json!({"symbol": "BTCUSDT", "orderId": 2}))
        )["result"]["status"],
        json!("CANCELED")
    );

    let reply = h.reply(
        ALICE,
        &frame("openOrders.cancelAll", json!({"symbol": "BTCUSDT"})),
    );
    let list = reply["result"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["orderId"], json!(1));
    assert_eq!(list[0]["origClientOrderId"], json!("a1"));
    assert_eq!(list[0]["status"], json!("CANCELED"));
    assert_eq!(
        h.request(
            ALICE,
            &frame("openOrders.cancelAll", json!({"symbol": "BTCUSDT"}))
        ),
        err("r1", 400, -2011, "Unknown order sent.")
    );

    // All funds are back; every asset is listed unless omitZeroBalances.
    let status = h.reply(ALICE, &frame("account.status", json!({})));
    assert_eq!(
        status["result"],
        json!({"makerCommission": 10, "takerCommission": 20, "buyerCommission": 0,
               "sellerCommission": 0, "canTrade": true, "canWithdraw": true,
               "canDeposit": true,
               "commissionRates": {"maker": "0.00100000", "taker": "0.00200000",
                                   "buyer": "0.00000000", "seller": "0.00000000"},
               "brokered": false, "requireSelfTradePrevention": false, "preventSor": false,
               "updateTime": T0, "accountType": "SPOT",
               "balances": [{"asset": "BTC", "free": "10.00000000", "locked": "0.00000000"},
                            {"asset": "USDT", "free": "100000.00000000", "locked": "0.00000000"},
                            {"asset": "ETH", "free": "100.00000000", "locked": "0.00000000"}],
               "permissions": ["SPOT"], "uid": 1})
    );
    let empty = h.reply(
        AccountId(77),
        &frame("account.status", json!({"omitZeroBalances": true})),
    );
    assert_eq!(empty["result"]["balances"], json!([]));
    assert_eq!(empty["result"]["uid"], json!(77));
}

#[test]
fn matcher_rejects_become_binance_errors() {
    let mut h = Harness::new();
    place_limit_buy(&mut h);
    let cases = [
        // Duplicate open client id.
        (
            json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                   "price": "100", "quantity": "0.1", "newClientOrderId": "a1"}),
            -2010,
            "Duplicate order sent.",
        ),
        // 10 BTC * 1,000,000 USDT is far above the balance.
        (
            json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                   "price": "1000000", "quantity": "10"}),
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        // A post-only order that would cross Alice's bid.
        (
            json!({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT_MAKER",
                   "price": "40000", "quantity": "0.001"}),
            -2010,
            "Order would immediately match and take.",
        ),
    ];
    for (params, code, msg) in cases {
        let before = h.commands;
        assert_eq!(
            h.request(ALICE, &frame("order.place", params.clone())),
            err("r1", 400, code, msg),
            "{params}"
        );
        // These are the matcher's decisions: journaled, with a Rejected event.
        assert_eq!(h.commands, before + 1);
    }
    assert_eq!(
        h.reply(
            ALICE,
            &frame(
                "order.test",
                json!({"symbol": "BTCUSDT", "side": "BUY",
            "type": "LIMIT", "timeInForce": "GTC", "price": "100", "quantity": "0.1"})
            )
        ),
        json!({"id": "r1", "status": 200, "result": {}})
    );
    assert_eq!(
        h.reply(
            ALICE,
            &frame(
                "order.test",
                json!({"symbol": "BTCUSDT", "side": "BUY",
            "type": "MARKET", "quoteOrderQty": "100", "computeCommissionRates": true})
            )
        )["result"],
        json!({"standardCommissionForOrder": {"maker": "0.00100000", "taker": "0.00200000"},
               "taxCommissionForOrder": {"maker": "0.00000000", "taker": "0.00000000"},
               "discount": {"enabledForAccount": false, "enabledForSymbol": false,
                            "discountAsset": null, "discount": "0.00000000"}})
    );
}

#[test]
fn exchange_info() {
    let mut h = Harness::new();
    h.run(Command::HaltSymbol { symbol: ETHBTC });
    let all = h.reply(ALICE, r#"{"id":5,"method":"exchangeInfo"}"#);
    let r = &all["result"];
    assert_eq!(r["timezone"], json!("UTC"));
    assert_eq!(r["serverTime"], json!(T0));
    let names: Vec<&str> = r["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["BTCUSDT", "ETHBTC"]);
    let btc = &r["symbols"][0];
    assert_eq!(btc["status"], json!("TRADING"));
    assert_eq!(r["symbols"][1]["status"], json!("HALT"));
    assert_eq!(btc["baseAssetPrecision"], json!(8));
    assert_eq!(btc["quoteAssetPrecision"], json!(6));
    assert_eq!(
        btc["filters"],
        json!([
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
             "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "1000.00000000",
             "stepSize": "0.00100000"},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": false,
             "maxNotional": "1000000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 0},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00100000",
             "maxQty": "1000.00000000", "stepSize": "0.00100000"},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200}
        ])
    );
    let eth = &r["symbols"][1]["filters"][1];
    assert_eq!(eth["stepSize"], json!("0.00100000"));

    let one = h.reply(
        ALICE,
        r#"{"id":5,"method":"exchangeInfo","params":{"symbol":"ETHBTC"}}"#,
    );
    assert_eq!(one["result"]["symbols"].as_array().unwrap().len(), 1);
    let two = h.reply(
        ALICE,
        r#"{"id":5,"method":"exchangeInfo","params":{"symbols":["ETHBTC","BTCUSDT"]}}"#,
    );
    assert_eq!(two["result"]["symbols"][0]["symbol"], json!("ETHBTC"));
    for (params, code) in [
        (r#"{"symbol":"NOPE"}"#, -1121),
        (r#"{"symbols":["BTCUSDT","NOPE"]}"#, -1121),
        (r#"{"symbols":["BTCUSDT","BTCUSDT"]}"#, -1151),
        (r#"{"symbol":"BTCUSDT","symbols":["BTCUSDT"]}"#, -1128),
        (r#"{"symbols":"BTCUSDT"}"#, -1135),
        (r#"{"permissions":"SPOT"}"#, -1104),
    ] {
        let reply = h.reply(
            ALICE,
            &format!(r#"{{"id":5,"method":"exchangeInfo","params":{params}}}"#),
        );
        assert_eq!(reply["error"]["code"], json!(code), "{params}");
    }
}

#[test]
fn market_buy_by_quote_amount() {
    let mut h = Harness::new();
    h.request(
        ALICE,
        &frame(
            "order.place",
            json!({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                   "price": "50000", "quantity": "1"}),
        ),
    );
    // 100 USDT including the 0.2 % taker fee buys one lot (50 + 0.1); two would cost 100.2.
    let reply = h.reply(
        BOB,
        &frame(
            "order.place",
            json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "100"}),
        ),
    );
    let r = &reply["result"];
    assert_eq!(r["origQuoteOrderQty"], json!("100.00000000"));
    assert_eq!(r["origQty"], json!("0.00100000"));
    assert_eq!(r["executedQty"], json!("0.00100000"));
    assert_eq!(r["cummulativeQuoteQty"], json!("50.00000000"));
    assert_eq!(r["price"], json!("0.00000000"));
    assert_eq!(r["fills"][0]["commission"], json!("0.10000000"));
    let status = h.engine.open_orders(BOB, None);
    assert!(status.is_empty());
    // A rest smaller than one more lot leaves the order FILLED (the matcher's rule).
    assert_eq!(r["status"], json!("FILLED"));
}
