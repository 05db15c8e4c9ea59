//! The client against the in-test fake exchange (tests/common), which checks every signature
//! with `gateway::auth::verify`.
#![allow(clippy::unwrap_used)]

mod common;

use bench::client::{
    CancelReplaceAck, CancelReplaceMode, Client, ClientConfig, ClientError, Credentials, OrderAck,
    OrderRef, OrderRequest, OrderStatus, RespType, Side, TimeInForce, UserEventKind,
};
use serde_json::{json, Map, Value};
use std::time::Duration;

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn config(key: &str, secret: &str) -> ClientConfig {
    ClientConfig {
        credentials: Some(Credentials::new(key, secret)),
        ..ClientConfig::default()
    }
}

async fn setup() -> (common::FakeExchange, Client) {
    let fake = common::start(&[(KEY, SECRET)]).await;
    let client = Client::connect_with(&fake.url, config(KEY, SECRET))
        .await
        .unwrap();
    (fake, client)
}

fn api_code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> i64 {
    r.unwrap_err().api_code().unwrap()
}

#[tokio::test]
async fn signed_order_flow_with_exact_params() {
    let (fake, client) = setup().await;
    let order = OrderRequest::limit(
        "BTCUSDT",
        Side::Sell,
        TimeInForce::Gtc,
        "52000.00",
        "0.01000000",
    )
    .with_client_order_id("c-1")
    .with_resp_type(RespType::Full);
    let result = client.place_order(&order).await.unwrap();
    let ack = OrderAck::from_result(&result).unwrap();
    assert_eq!(ack.symbol, "BTCUSDT");
    assert_eq!(ack.client_order_id, "c-1");
    assert_eq!(ack.status, Some(OrderStatus::New));
    assert!(ack.is_open());
    assert!(ack.fills.is_empty());

    // What went on the wire: the order's params, then apiKey, timestamp and signature.
    let sent = fake.stats.last("order.place").unwrap();
    let mut names: Vec<&str> = sent.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "apiKey",
            "newClientOrderId",
            "newOrderRespType",
            "price",
            "quantity",
            "side",
            "signature",
            "symbol",
            "timeInForce",
            "timestamp",
            "type"
        ]
    );
    assert_eq!(sent["price"], json!("52000.00"));
    assert_eq!(sent["apiKey"], json!(KEY));
    assert!(sent["timestamp"].is_u64());
    assert_eq!(sent["signature"].as_str().unwrap().len(), 64);

    // The order is there, then cancelled, then unknown.
    let status = client
        .order_status("BTCUSDT", &OrderRef::Id(ack.order_id))
        .await
        .unwrap();
    assert_eq!(status["orderId"], json!(ack.order_id));
    let open = client.open_orders(Some("BTCUSDT")).await.unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1);
    let canceled = client
        .cancel_order("BTCUSDT", &OrderRef::Id(ack.order_id))
        .await
        .unwrap();
    assert_eq!(canceled["status"], json!("CANCELED"));
    assert_eq!(
        api_code(
            client
                .cancel_order("BTCUSDT", &OrderRef::Id(ack.order_id))
                .await
        ),
        -2011
    );
    assert_eq!(
        api_code(
            client
                .order_status("BTCUSDT", &OrderRef::Id(ack.order_id))
                .await
        ),
        -2013
    );
    let sent = fake.stats.last("order.cancel").unwrap();
    assert_eq!(sent["orderId"], json!(ack.order_id));

    // IOC fills; the typed helper reads the fill.
    let ioc = OrderRequest::limit(
        "BTCUSDT",
        Side::Buy,
        TimeInForce::Ioc,
        "52000.00",
        "0.50000000",
    );
    let filled = OrderAck::from_result(&client.place_order(&ioc).await.unwrap()).unwrap();
    assert_eq!(filled.status, Some(OrderStatus::Filled));
    assert!(!filled.is_open());
    assert_eq!(filled.fills.len(), 1);
    assert_eq!(filled.fills[0].qty, "0.50000000");
    assert_eq!(filled.executed_qty.as_deref(), Some("0.50000000"));

    // Cancel-replace: success carries both halves; a failed cancel carries them in `data`.
    let resting = OrderAck::from_result(&client.place_order(&order).await.unwrap()).unwrap();
    let moved = OrderRequest::limit(
        "BTCUSDT",
        Side::Sell,
        TimeInForce::Gtc,
        "52001.00",
        "0.01000000",
    );
    let result = client
        .cancel_replace(
            &OrderRef::Id(resting.order_id),
            CancelReplaceMode::StopOnFailure,
            &moved,
        )
        .await
        .unwrap();
    let cr = CancelReplaceAck::from_result(&result).unwrap();
    assert_eq!(cr.cancel_response["orderId"], json!(resting.order_id));
    assert_eq!(cr.new_order.status, Some(OrderStatus::New));
    let sent = fake.stats.last("order.cancelReplace").unwrap();
    assert_eq!(sent["cancelOrderId"], json!(resting.order_id));
    assert_eq!(sent["cancelReplaceMode"], json!("STOP_ON_FAILURE"));
    assert_eq!(sent["price"], json!("52001.00"));
    match client
        .cancel_replace(
            &OrderRef::Id(resting.order_id),
            CancelReplaceMode::StopOnFailure,
            &moved,
        )
        .await
    {
        Err(ClientError::Api {
            code: -2022,
            data: Some(data),
            status: 400,
            ..
        }) => {
            assert_eq!(data["cancelResult"], json!("FAILURE"))
        }
        other => panic!("{other:?}"),
    }

    // Cancel-all returns what was open.
    let all = client.cancel_all("BTCUSDT").await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["orderId"], json!(cr.new_order.order_id));
    let account = client.account_status().await.unwrap();
    assert_eq!(account["canTrade"], json!(true));
}

#[tokio::test]
async fn public_methods_need_no_credentials() {
    let fake = common::start(&[]).await;
    let client = Client::connect(&fake.url).await.unwrap();
    assert_eq!(client.ping().await.unwrap(), json!({}));
    let t = client.time().await.unwrap();
    assert!(t.abs_diff(bench::client::now_ms()) < 5_000);
    let info = client.exchange_info(Some("BTCUSDT")).await.unwrap();
    assert_eq!(info["symbols"][0]["symbol"], json!("BTCUSDT"));
    assert_eq!(
        fake.stats.last("exchangeInfo").unwrap()["symbol"],
        json!("BTCUSDT")
    );
    // No params object at all for ping.
    assert!(fake.stats.last("ping").unwrap().is_empty());
    // Signed methods without credentials fail before anything is sent.
    let before = fake
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(
        client.account_status().await,
        Err(ClientError::NoCredentials { .. })
    ));
    assert!(matches!(
        client.logon().await,
        Err(ClientError::NoCredentials { .. })
    ));
    assert!(matches!(
        client.subscribe_user_data().await,
        Err(ClientError::NoCredentials { .. })
    ));
    assert_eq!(
        fake.stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        before
    );
}

#[tokio::test]
async fn wrong_secret_unknown_key_and_stale_clock_are_rejected() {
    let fake = common::start(&[(KEY, SECRET)]).await;
    let wrong = Client::connect_with(&fake.url, config(KEY, "not-the-secret"))
        .await
        .unwrap();
    assert_eq!(api_code(wrong.account_status().await), -1022);
    assert_eq!(api_code(wrong.logon().await), -1022);
    assert!(!wrong.is_logged_on());
    let unknown = Client::connect_with(&fake.url, config("nobody", SECRET))
        .await
        .unwrap();
    assert_eq!(api_code(unknown.account_status().await), -2015);
    // A tampered request (params changed after signing) fails verification.
    let good = Client::connect_with(&fake.url, config(KEY, SECRET))
        .await
        .unwrap();
    let mut params = Map::new();
    params.insert("timestamp".into(), json!(bench::client::now_ms()));
    bench::client::sign_params(&mut params, &Credentials::new(KEY, SECRET)).unwrap();
    params.insert("symbol".into(), json!("ETHUSDT"));
    assert_eq!(
        api_code(good.request("openOrders.status", params).await),
        -1022
    );
    // A timestamp outside recvWindow is -1021 even with a valid signature.
    let mut stale = Map::new();
    stale.insert("timestamp".into(), json!(bench::client::now_ms() - 10_000));
    bench::client::sign_params(&mut stale, &Credentials::new(KEY, SECRET)).unwrap();
    assert_eq!(api_code(good.request("account.status", stale).await), -1021);
    // Fractions cannot be signed as sent.
    let mut bad = Map::new();
    bad.insert("price".into(), json!(1.5));
    assert!(matches!(
        good.signed_request("order.place", bad).await,
        Err(ClientError::BadParam { param }) if param == "price"
    ));
}

#[tokio::test]
async fn logged_on_session_sends_only_timestamp_and_gets_pushes() {
    let (fake, client) = setup().await;
    let logon = client.logon().await.unwrap();
    assert_eq!(logon["apiKey"], json!(KEY));
    assert!(client.is_logged_on());
    let sent = fake.stats.last("session.logon").unwrap();
    assert!(sent.contains_key("signature") && sent.contains_key("apiKey"));

    let mut stream = client.subscribe_user_data().await.unwrap();
    assert_eq!(stream.subscription_id(), Some(0));
    let order = OrderRequest::limit(
        "BTCUSDT",
        Side::Buy,
        TimeInForce::Gtc,
        "100.00",
        "1.00000000",
    );
    let ack = OrderAck::from_result(&client.place_order(&order).await.unwrap()).unwrap();
    // The fake rejects a signature on a logged-on session (-1104), so success proves none.
    let sent = fake.stats.last("order.place").unwrap();
    assert!(!sent.contains_key("signature") && !sent.contains_key("apiKey"));
    assert!(sent.contains_key("timestamp"));

    let report = stream.next().await.unwrap();
    assert_eq!(report.kind, UserEventKind::ExecutionReport);
    assert_eq!(report.order_id(), Some(ack.order_id));
    assert_eq!(report.order_status(), Some(OrderStatus::New));
    let position = stream.next().await.unwrap();
    assert_eq!(position.kind, UserEventKind::OutboundAccountPosition);
    assert_eq!(stream.dropped(), 0);
}

#[tokio::test]
async fn a_full_user_data_buffer_drops_and_counts_instead_of_stalling() {
    let fake = common::start(&[(KEY, SECRET)]).await;
    let client = Client::connect_with(
        &fake.url,
        ClientConfig {
            user_data_queue: 2,
            ..config(KEY, SECRET)
        },
    )
    .await
    .unwrap();
    client.logon().await.unwrap();
    let mut stream = client.subscribe_user_data().await.unwrap();
    let order = OrderRequest::market("BTCUSDT", Side::Buy, "1.00000000");
    for _ in 0..5 {
        // Responses keep arriving although nobody reads the stream.
        client.place_order(&order).await.unwrap();
    }
    client.ping().await.unwrap(); // every push of the 5 orders has been dispatched
                                  // Two pushes per order, buffer of two: eight dropped.
    assert_eq!(stream.dropped(), 8);
    assert_eq!(
        stream.next().await.unwrap().kind,
        UserEventKind::ExecutionReport
    );
    assert_eq!(
        stream.next().await.unwrap().kind,
        UserEventKind::OutboundAccountPosition
    );
}

#[tokio::test]
async fn many_requests_in_flight_match_responses_by_id() {
    let (fake, client) = setup().await;
    // 200 requests on one connection; later ones are answered first.
    let mut pending = Vec::new();
    for i in 0..200u64 {
        let mut params = Map::new();
        params.insert("delayMs".into(), json!(200 - i));
        params.insert("n".into(), json!(i));
        pending.push(client.start("test.echo", params).await.unwrap());
    }
    assert!(client.in_flight() > 0);
    let results = futures_util::future::join_all(pending.into_iter().map(|p| p.wait())).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap()["echo"]["n"], json!(i));
    }
    assert_eq!(client.in_flight(), 0);
    assert_eq!(
        fake.stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        200
    );
}

#[tokio::test]
async fn in_flight_limit_applies_backpressure() {
    let fake = common::start(&[]).await;
    let client = Client::connect_with(
        &fake.url,
        ClientConfig {
            max_in_flight: 2,
            ..ClientConfig::default()
        },
    )
    .await
    .unwrap();
    let echo = |ms: u64| {
        let mut p = Map::new();
        p.insert("delayMs".into(), json!(ms));
        p
    };
    let a = client.start("test.echo", echo(300)).await.unwrap();
    let b = client.start("test.echo", echo(300)).await.unwrap();
    // A third must wait for a slot.
    let third = tokio::time::timeout(
        Duration::from_millis(100),
        client.start("test.echo", echo(0)),
    )
    .await;
    assert!(
        third.is_err(),
        "third request got a slot while two were in flight"
    );
    a.wait().await.unwrap();
    let c = tokio::time::timeout(Duration::from_secs(5), client.start("test.echo", echo(0)))
        .await
        .unwrap()
        .unwrap();
    c.wait().await.unwrap();
    b.wait().await.unwrap();
}

#[tokio::test]
async fn timeout_and_close_fail_pending_requests() {
    let fake = common::start(&[]).await;
    let client = Client::connect_with(
        &fake.url,
        ClientConfig {
            request_timeout: Duration::from_millis(200),
            ..ClientConfig::default()
        },
    )
    .await
    .unwrap();
    let silent = client.start("test.silence", Map::new()).await.unwrap();
    assert!(matches!(
        silent.wait().await,
        Err(ClientError::Timeout { .. })
    ));
    assert_eq!(client.in_flight(), 0);

    let mut slow = Map::new();
    slow.insert("delayMs".into(), json!(60_000));
    let waiting = client.start("test.echo", slow).await.unwrap();
    let _ = client.start("test.close", Map::new()).await.unwrap();
    assert!(matches!(waiting.wait().await, Err(ClientError::Closed)));
    assert!(client.is_closed());
    assert!(matches!(client.ping().await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn connect_failure_is_an_error() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Client::connect(&format!("ws://{addr}/ws-api/v3"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
}

#[test]
fn credentials_debug_hides_the_secret() {
    let c = Credentials::new(KEY, SECRET);
    let text = format!("{c:?}");
    assert!(!text.contains(SECRET) && !text.contains(KEY));
    assert!(text.contains("vmPUZE6m"));
}

#[test]
fn unknown_statuses_and_bad_shapes_are_protocol_errors() {
    let ok = json!({"symbol": "X", "orderId": 1, "clientOrderId": "a"});
    let ack = OrderAck::from_result(&ok).unwrap();
    assert_eq!(ack.status, None);
    for bad in [
        json!({"symbol": "X", "orderId": "1", "clientOrderId": "a"}),
        json!({"orderId": 1, "clientOrderId": "a"}),
        json!({"symbol": "X", "orderId": 1, "clientOrderId": "a", "status": "WEIRD"}),
        json!({"symbol": "X", "orderId": 1, "clientOrderId": "a", "fills": {}}),
        json!({"symbol": "X", "orderId": 1, "clientOrderId": "a", "fills": [{"price": "1"}]}),
    ] {
        assert!(
            matches!(OrderAck::from_result(&bad), Err(ClientError::Protocol(_))),
            "{bad}"
        );
    }
    let _: Value = ok;
}

#[tokio::test]
async fn user_data_without_logon_is_a_signed_subscribe() {
    let (fake, client) = setup().await;
    let mut stream = client.subscribe_user_data().await.unwrap();
    let sent = fake.stats.last("userDataStream.subscribe").unwrap();
    assert!(sent.contains_key("signature") && sent.contains_key("timestamp"));
    let order = OrderRequest::market("BTCUSDT", Side::Sell, "1.00000000");
    let ack = OrderAck::from_result(&client.place_order(&order).await.unwrap()).unwrap();
    let report = stream.next().await.unwrap();
    assert_eq!(report.order_id(), Some(ack.order_id));
    assert_eq!(report.order_status(), Some(OrderStatus::Filled));
}
