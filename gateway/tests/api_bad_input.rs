//! Every bad-input case the issue lists, as a table: the frame, the Binance code and message
//! of the reply, and that NOTHING reached the matcher (no command journaled).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use api_support::*;
use matcher::Command;
use serde_json::{json, Value};

const DECIMAL: &str = "^([0-9]{1,20})(\\.[0-9]{1,20})?$";

fn limit(extra: Value) -> Value {
    let mut p = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                       "timeInForce": "GTC", "price": "50000", "quantity": "0.01"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p.as_object_mut().unwrap().insert(k.clone(), v.clone());
        }
    }
    p
}

fn market(extra: Value) -> Value {
    let mut p = limit(json!({"type": "MARKET", "timeInForce": null, "price": null}));
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    p.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    p
}

fn illegal(param: &str) -> String {
    format!("Illegal characters found in parameter '{param}'; legal range is '{DECIMAL}'.")
}

fn mandatory(param: &str) -> String {
    format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed.")
}

#[test]
fn bad_requests_are_refused_before_the_matcher() {
    let mut h = Harness::new();
    h.run(Command::HaltSymbol { symbol: ETHBTC });
    let base = h.commands;
    let long_id = "a".repeat(37);
    let cid_range = |p: &str| {
        format!("Illegal characters found in parameter '{p}'; legal range is '^[a-zA-Z0-9-_]{{1,36}}$'.")
    };
    let cases: Vec<(&str, Value, i32, String)> = vec![
        // Symbol.
        ("order.place", limit(json!({"symbol": null})), -1102, mandatory("symbol")),
        ("order.place", limit(json!({"symbol": ""})), -1102, mandatory("symbol")),
        ("order.place", limit(json!({"symbol": "DOGEUSDT"})), -1121, "Invalid symbol.".into()),
        ("order.place", limit(json!({"symbol": "btcusdt"})), -1121, "Invalid symbol.".into()),
        (
            "order.place",
            limit(json!({"symbol": "ETHBTC", "price": "0.05", "quantity": "1"})),
            -2010,
            "Market is closed.".into(),
        ),
        // Enums.
        ("order.place", limit(json!({"side": null})), -1102, mandatory("side")),
        ("order.place", limit(json!({"side": "buy"})), -1117, "Invalid side.".into()),
        ("order.place", limit(json!({"type": null})), -1102, mandatory("type")),
        ("order.place", limit(json!({"type": "LIMITED"})), -1116, "Invalid orderType.".into()),
        ("order.place", limit(json!({"timeInForce": null})), -1102, mandatory("timeInForce")),
        ("order.place", limit(json!({"timeInForce": "GTD"})), -1115, "Invalid timeInForce.".into()),
        (
            "order.place",
            limit(json!({"newOrderRespType": "ALL"})),
            -1130,
            "Data sent for parameter 'newOrderRespType' is not valid.".into(),
        ),
        (
            "order.place",
            limit(json!({"selfTradePreventionMode": "EXPIRE"})),
            -1130,
            "Data sent for parameter 'selfTradePreventionMode' is not valid.".into(),
        ),
        // Unsupported order kinds and parameters.
        (
            "order.place",
            limit(json!({"type": "STOP_LOSS"})),
            -2010,
            "Stop loss orders are not supported for this symbol.".into(),
        ),
        (
            "order.place",
            limit(json!({"type": "STOP_LOSS_LIMIT"})),
            -2010,
            "Stop loss limit orders are not supported for this symbol.".into(),
        ),
        (
            "order.place",
            limit(json!({"type": "TAKE_PROFIT"})),
            -2010,
            "Take profit orders are not supported for this symbol.".into(),
        ),
        (
            "order.place",
            limit(json!({"type": "TAKE_PROFIT_LIMIT"})),
            -2010,
            "Take profit limit orders are not supported for this symbol.".into(),
        ),
        (
            "order.place",
            limit(json!({"icebergQty": "0.001"})),
            -2010,
            "Iceberg orders are not supported for this symbol.".into(),
        ),
        (
            "order.place",
            limit(json!({"trailingDelta": 100})),
            -2010,
            "Trailing stop orders are not supported for this symbol.".into(),
        ),
        (
            "order.place",
            limit(json!({"stopPrice": "1"})),
            -1106,
            "Parameter 'stopPrice' sent when not required.".into(),
        ),
        (
            "order.place",
            limit(json!({"strategyId": 1})),
            -1106,
            "Parameter 'strategyId' sent when not required.".into(),
        ),
        // Type-specific combinations.
        (
            "order.place",
            limit(json!({"quoteOrderQty": "10"})),
            -1106,
            "Parameter 'quoteOrderQty' sent when not required.".into(),
        ),
        (
            "order.place",
            limit(json!({"type": "LIMIT_MAKER"})),
            -1114,
            "TimeInForce parameter sent when not required.".into(),
        ),
        (
            "order.place",
            market(json!({"timeInForce": "IOC"})),
            -1114,
            "TimeInForce parameter sent when not required.".into(),
        ),
        (
            "order.place",
            market(json!({"price": "1"})),
            -1106,
            "Parameter 'price' sent when not required.".into(),
        ),
        (
            "order.place",
            market(json!({"quantity": null})),
            -1102,
            "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!".into(),
        ),
        (
            "order.place",
            market(json!({"quoteOrderQty": "100"})),
            -1106,
            "Parameter 'quoteOrderQty' sent when not required.".into(),
        ),
        // Price: grammar, precision, filter.
        ("order.place", limit(json!({"price": null})), -1102, mandatory("price")),
        ("order.place", limit(json!({"price": "abc"})), -1100, illegal("price")),
        ("order.place", limit(json!({"price": "-1"})), -1100, illegal("price")),
        ("order.place", limit(json!({"price": "1e5"})), -1100, illegal("price")),
        ("order.place", limit(json!({"price": " 50000"})), -1100, illegal("price")),
        ("order.place", limit(json!({"price": "50000."})), -1100, illegal("price")),
        ("order.place", limit(json!({"price": 50000.5})), -1102, mandatory("price")),
        (
            "order.place",
            limit(json!({"price": "50000.0000001"})),
            -1111,
            "Precision is over the maximum defined for this asset.".into(),
        ),
        (
            "order.place",
            limit(json!({"price": "50000.001"})),
            -1013,
            "Filter failure: PRICE_FILTER".into(),
        ),
        ("order.place", limit(json!({"price": "0"})), -1013, "Filter failure: PRICE_FILTER".into()),
        (
            "order.place",
            limit(json!({"price": "1000000.01"})),
            -1013,
            "Filter failure: PRICE_FILTER".into(),
        ),
        // Quantity.
        ("order.place", limit(json!({"quantity": null})), -1102, mandatory("quantity")),
        ("order.place", limit(json!({"quantity": "0.01a"})), -1100, illegal("quantity")),
        (
            "order.place",
            limit(json!({"quantity": "0.0001"})),
            -1013,
            "Filter failure: LOT_SIZE".into(),
        ),
        ("order.place", limit(json!({"quantity": "0"})), -1013, "Filter failure: LOT_SIZE".into()),
        (
            "order.place",
            limit(json!({"quantity": "1000.001"})),
            -1013,
            "Filter failure: LOT_SIZE".into(),
        ),
        (
            "order.place",
            market(json!({"quantity": "0.0005"})),
            -1013,
            "Filter failure: LOT_SIZE".into(),
        ),
        // Notional.
        (
            "order.place",
            limit(json!({"price": "1", "quantity": "0.001"})),
            -1013,
            "Filter failure: NOTIONAL".into(),
        ),
        (
            "order.place",
            market(json!({"quantity": null, "quoteOrderQty": "4.99"})),
            -1013,
            "Filter failure: NOTIONAL".into(),
        ),
        // Client ids.
        ("order.place", limit(json!({"newClientOrderId": "has.dot"})), -1100, cid_range("newClientOrderId")),
        ("order.place", limit(json!({"newClientOrderId": long_id})), -1100, cid_range("newClientOrderId")),
        ("order.place", limit(json!({"newClientOrderId": ""})), -1102, mandatory("newClientOrderId")),
        // Unread and security parameters.
        (
            "order.place",
            limit(json!({"foo": "1"})),
            -1104,
            "Not all sent parameters were read; read '9' parameter(s) but was sent '10'.".into(),
        ),
        (
            "order.place",
            limit(json!({"recvWindow": 60001})),
            -1131,
            "recvWindow must be less than 60000".into(),
        ),
        (
            "order.place",
            limit(json!({"recvWindow": "1.0001"})),
            -1111,
            "Precision is over the maximum defined for this asset.".into(),
        ),
        // order.test validates exactly like order.place.
        ("order.test", limit(json!({"price": "0"})), -1013, "Filter failure: PRICE_FILTER".into()),
        // Cancels and queries.
        (
            "order.cancel",
            json!({"symbol": "BTCUSDT"}),
            -1102,
            "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!".into(),
        ),
        (
            "order.cancel",
            json!({"symbol": "BTCUSDT", "orderId": "x1"}),
            -1100,
            "Illegal characters found in parameter 'orderId'; legal range is '^[0-9]{1,20}$'.".into(),
        ),
        ("order.cancel", json!({"symbol": "NOPE", "orderId": 1}), -1121, "Invalid symbol.".into()),
        (
            "order.cancel",
            json!({"symbol": "BTCUSDT", "orderId": 1, "cancelRestrictions": "ONLY_NEW"}),
            -1106,
            "Parameter 'cancelRestrictions' sent when not required.".into(),
        ),
        (
            "order.cancelReplace",
            limit(json!({"cancelOrderId": 1})),
            -1102,
            mandatory("cancelReplaceMode"),
        ),
        (
            "order.cancelReplace",
            limit(json!({"cancelOrderId": 1, "cancelReplaceMode": "ALWAYS"})),
            -1130,
            "Data sent for parameter 'cancelReplaceMode' is not valid.".into(),
        ),
        (
            "order.cancelReplace",
            limit(json!({"cancelReplaceMode": "STOP_ON_FAILURE"})),
            -1102,
            "Param 'cancelOrderId' or 'cancelOrigClientOrderId' must be sent, but both were empty/null!"
                .into(),
        ),
        (
            "order.cancelReplace",
            limit(json!({"cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": 1,
                         "quantity": "0.0001"})),
            -1013,
            "Filter failure: LOT_SIZE".into(),
        ),
        ("openOrders.cancelAll", json!({}), -1102, mandatory("symbol")),
        (
            "order.status",
            json!({"symbol": "BTCUSDT"}),
            -1102,
            "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!".into(),
        ),
        ("openOrders.status", json!({"symbol": "NOPE"}), -1121, "Invalid symbol.".into()),
        (
            "account.status",
            json!({"omitZeroBalances": "yes"}),
            -1130,
            "Data sent for parameter 'omitZeroBalances' is not valid.".into(),
        ),
    ];
    for (method, params, code, msg) in &cases {
        let before = h.commands;
        let reply = h.reply(ALICE, &frame(method, params.clone()));
        assert_eq!(
            (
                reply["status"].clone(),
                reply["error"]["code"].clone(),
                reply["error"]["msg"].clone()
            ),
            (json!(400), json!(code), json!(msg)),
            "{method} {params}"
        );
        assert_eq!(reply["id"], json!("r1"));
        assert_eq!(h.commands, before, "{method} {params} reached the matcher");
    }
    // A request without its security parameters.
    let reply = h.reply(
        ALICE,
        &json!({"id": 1, "method": "order.place", "params": limit(json!({}))}).to_string(),
    );
    assert_eq!(reply["error"]["msg"], json!(mandatory("timestamp")));
    assert_eq!(h.commands, base);
    // The same valid request goes through.
    let reply = h.reply(ALICE, &frame("order.place", limit(json!({}))));
    assert_eq!(reply["status"], json!(200));
    assert_eq!(h.commands, base + 1);
}

#[test]
fn malformed_frames() {
    let mut h = Harness::new();
    for (frame, id, code) in [
        ("{", Value::Null, -1135),
        ("null", Value::Null, -1135),
        (r#"{"id":[1],"method":"ping"}"#, Value::Null, -1135),
        (r#"{"id":"q","method":"nope"}"#, json!("q"), -1020),
        (r#"{"id":"q","params":{}}"#, json!("q"), -1102),
        (
            r#"{"id":4,"method":"order.place","params":5}"#,
            json!(4),
            -1135,
        ),
    ] {
        let reply = h.reply(ALICE, frame);
        assert_eq!(reply["id"], id, "{frame}");
        assert_eq!(reply["status"], json!(400), "{frame}");
        assert_eq!(reply["error"]["code"], json!(code), "{frame}");
    }
    assert_eq!(
        h.request(ALICE, r#"{"id":"p","method":"ping"}"#),
        r#"{"id":"p","status":200,"result":{}}"#
    );
    assert_eq!(h.commands, 0);
}
