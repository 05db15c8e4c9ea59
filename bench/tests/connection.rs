//! The load generator's connection (`bench::client::Connection`) against the in-test fake
//! exchange (tests/common), which verifies every signature with `gateway::auth::verify`:
//! pipelined requests completed in place with typed summaries, execution reports, the
//! in-flight limit, out-of-order responses, timeouts and close.
#![allow(clippy::unwrap_used)]

mod common;

use bench::client::{
    ClientConfig, ClientError, Connection, Credentials, ExecutionReport, Failure, OrderRequest,
    OrderStatus, OrderSummary, Outcome, ParamValue, Params, Receiver, Side, TimeInForce,
};
use std::time::{Duration, Instant};

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn config() -> ClientConfig {
    ClientConfig {
        credentials: Some(Credentials::new(KEY, SECRET)),
        ..ClientConfig::default()
    }
}

/// Collects what the connection hands over.
#[derive(Default)]
struct Collect {
    replies: Vec<(u64, Outcome)>,
    /// (order id, status, client order id)
    reports: Vec<(u64, Option<OrderStatus>, Option<String>)>,
}

impl Receiver<u64> for Collect {
    fn on_reply(&mut self, token: u64, _arrived: Instant, outcome: Outcome) {
        self.replies.push((token, outcome));
    }
    fn on_report(&mut self, report: &ExecutionReport<'_>, _arrived: Instant) {
        self.reports.push((
            report.order_id,
            report.status,
            report.client_order_id.as_deref().map(str::to_string),
        ));
    }
}

/// Receives until `n` replies in all have come.
async fn settle(conn: &mut Connection<u64>, rx: &mut Collect, n: usize) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while rx.replies.len() < n {
            assert!(conn.receive(rx, 64).await, "closed");
        }
    })
    .await
    .unwrap();
}

fn send(conn: &mut Connection<u64>, method: &str, params: Params<'_>, token: u64) {
    assert!(conn.can_send());
    conn.send_signed(method, params, token, Instant::now())
        .unwrap();
}

fn place(conn: &mut Connection<u64>, order: &OrderRequest, token: u64) {
    let mut params = Params::new();
    order.write_params(&mut params, true);
    send(conn, "order.place", params, token);
}

fn order(outcome: &Outcome) -> OrderSummary {
    outcome.as_ref().unwrap().order.unwrap()
}

#[tokio::test]
async fn signed_pipelined_orders_read_as_summaries() {
    let fake = common::start(&[(KEY, SECRET)]).await;
    let mut conn = Connection::<u64>::connect(&fake.url, config())
        .await
        .unwrap();
    conn.subscribe_user_data().await.unwrap();
    let gtc = OrderRequest::limit("BTCUSDT", Side::Sell, TimeInForce::Gtc, "52000.00", "0.01")
        .with_client_order_id("mine-1");
    let ioc = OrderRequest::limit("BTCUSDT", Side::Buy, TimeInForce::Ioc, "52000.00", "0.5");
    let mut rx = Collect::default();
    // Three requests on the wire at once, one flush.
    place(&mut conn, &gtc, 1);
    place(&mut conn, &ioc, 2);
    place(&mut conn, &gtc, 3);
    assert_eq!(conn.in_flight(), 3);
    conn.flush();
    settle(&mut conn, &mut rx, 3).await;
    assert_eq!(conn.in_flight(), 0);
    rx.replies.sort_by_key(|(t, _)| *t);
    let resting = order(&rx.replies[0].1);
    assert_eq!(resting.status, Some(OrderStatus::New));
    assert_eq!(resting.fills, 0);
    let filled = order(&rx.replies[1].1);
    assert_eq!(
        (filled.status, filled.fills),
        (Some(OrderStatus::Filled), 1)
    );
    let second = order(&rx.replies[2].1);
    // The fake verified every signature (a bad one would be -1022).
    assert!(fake.stats.errors().is_empty());
    let sent = fake.stats.last("order.place").unwrap();
    assert!(sent.contains_key("signature") && sent.contains_key("apiKey"));
    assert_eq!(sent["newClientOrderId"], "mine-1");

    // Cancel one, cancel it again, move the other, move the cancelled one.
    let cancel = |id: u64| {
        let mut p = Params::new();
        p.push("symbol", ParamValue::Str("BTCUSDT"));
        p.push("orderId", ParamValue::U64(id));
        p
    };
    send(&mut conn, "order.cancel", cancel(resting.order_id), 4);
    send(&mut conn, "order.cancel", cancel(resting.order_id), 5);
    let moved = OrderRequest::limit("BTCUSDT", Side::Sell, TimeInForce::Gtc, "52001.00", "0.01");
    for (token, id) in [(6, second.order_id), (7, resting.order_id)] {
        let mut p = Params::new();
        bench::client::write_cancel_replace_params(
            &mut p,
            bench::client::order_id_param(id, true),
            bench::client::CancelReplaceMode::StopOnFailure,
            &moved,
        );
        send(&mut conn, "order.cancelReplace", p, token);
    }
    conn.flush();
    settle(&mut conn, &mut rx, 7).await;
    rx.replies.sort_by_key(|(t, _)| *t);
    assert_eq!(order(&rx.replies[3].1).status, Some(OrderStatus::Canceled));
    match &rx.replies[4].1 {
        Err(Failure::Api(a)) => {
            assert_eq!((a.status, a.code), (400, -2011));
            assert_eq!(a.msg, "Unknown order sent.");
        }
        other => panic!("{other:?}"),
    }
    let replaced = rx.replies[5].1.as_ref().unwrap();
    assert_eq!(replaced.new_order.unwrap().status, Some(OrderStatus::New));
    match &rx.replies[6].1 {
        Err(Failure::Api(a)) => {
            assert_eq!(a.code, -2022);
            assert!(!a.cancel_succeeded);
            assert_eq!(a.cancel_code, Some(-2011));
        }
        other => panic!("{other:?}"),
    }
    // The execution reports of the three placements came in place too (the fake reports
    // placements only).
    let ids: Vec<u64> = rx.reports.iter().map(|r| r.0).collect();
    assert_eq!(
        ids,
        vec![resting.order_id, filled.order_id, second.order_id]
    );
    assert_eq!(rx.reports[0].2.as_deref(), Some("mine-1"));
    assert_eq!(rx.reports[1].1, Some(OrderStatus::Filled));
}

#[tokio::test]
async fn after_logon_requests_carry_no_signature() {
    let fake = common::start(&[(KEY, SECRET)]).await;
    let mut conn = Connection::<u64>::connect(&fake.url, config())
        .await
        .unwrap();
    conn.logon().await.unwrap();
    assert!(conn.is_logged_on());
    let market = OrderRequest::market("BTCUSDT", Side::Buy, "1.00000000");
    let mut rx = Collect::default();
    place(&mut conn, &market, 1);
    conn.flush();
    settle(&mut conn, &mut rx, 1).await;
    // The fake refuses a signature on a logged-on session (-1104): success proves none.
    assert_eq!(order(&rx.replies[0].1).fills, 1);
    let sent = fake.stats.last("order.place").unwrap();
    assert!(!sent.contains_key("signature") && !sent.contains_key("apiKey"));
    assert!(sent["timestamp"].is_u64());
    // A wrong secret is refused at logon.
    let mut wrong = config();
    wrong.credentials = Some(Credentials::new(KEY, "nope"));
    let mut bad = Connection::<u64>::connect(&fake.url, wrong).await.unwrap();
    assert_eq!(bad.logon().await.unwrap_err().api_code(), Some(-1022));
    // Without credentials nothing is sent.
    let mut none = Connection::<u64>::connect(&fake.url, ClientConfig::default())
        .await
        .unwrap();
    assert!(matches!(
        none.send_signed("order.place", Params::new(), 9, Instant::now()),
        Err((9, ClientError::NoCredentials { .. }))
    ));
}

#[tokio::test]
async fn in_flight_limit_and_out_of_order_responses() {
    let fake = common::start(&[]).await;
    let mut conn = Connection::<u64>::connect(
        &fake.url,
        ClientConfig {
            max_in_flight: 3,
            ..config()
        },
    )
    .await
    .unwrap();
    let mut rx = Collect::default();
    for (token, delay) in [(0, 300), (1, 200), (2, 100)] {
        let mut p = Params::new();
        p.push("delayMs", ParamValue::U64(delay));
        send(&mut conn, "test.echo", p, token);
    }
    conn.flush();
    assert!(
        !conn.can_send(),
        "a fourth request fits under a limit of three"
    );
    settle(&mut conn, &mut rx, 1).await;
    assert!(conn.can_send());
    settle(&mut conn, &mut rx, 3).await;
    let order: Vec<u64> = rx.replies.iter().map(|(t, _)| *t).collect();
    assert_eq!(order, vec![2, 1, 0]);
    // The echo's result names no order: a success with nothing to read.
    assert!(rx.replies.iter().all(|(_, o)| o
        .as_ref()
        .is_ok_and(|r| r.order.is_none() && r.new_order.is_none())));
    // Setup calls refuse to run with pipelined requests in flight.
    let mut p = Params::new();
    p.push("delayMs", ParamValue::U64(5_000));
    send(&mut conn, "test.echo", p, 3);
    conn.flush();
    assert!(matches!(
        conn.subscribe_user_data().await,
        Err(ClientError::Busy { method }) if method == "userDataStream.subscribe"
    ));
}

#[tokio::test]
async fn overdue_requests_expire_and_a_close_fails_the_rest() {
    let fake = common::start(&[]).await;
    let mut conn = Connection::<u64>::connect(
        &fake.url,
        ClientConfig {
            request_timeout: Duration::from_millis(200),
            ..config()
        },
    )
    .await
    .unwrap();
    let mut rx = Collect::default();
    send(&mut conn, "test.silence", Params::new(), 1);
    conn.flush();
    conn.expire(Instant::now(), &mut rx);
    assert!(rx.replies.is_empty(), "expired before its deadline");
    tokio::time::sleep(Duration::from_millis(250)).await;
    conn.expire(Instant::now(), &mut rx);
    assert_eq!(rx.replies, vec![(1, Err(Failure::Timeout))]);
    assert_eq!(conn.in_flight(), 0);

    let mut p = Params::new();
    p.push("delayMs", ParamValue::U64(60_000));
    send(&mut conn, "test.echo", p, 2);
    send(&mut conn, "test.close", Params::new(), 3);
    conn.flush();
    let open = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if !conn.receive(&mut rx, 64).await {
                return false;
            }
        }
    })
    .await
    .unwrap();
    assert!(!open);
    assert!(conn.is_closed());
    rx.replies.sort_by_key(|(t, _)| *t);
    assert_eq!(
        rx.replies[1..],
        [(2, Err(Failure::Closed)), (3, Err(Failure::Closed))]
    );
    assert!(!conn.can_send());
    assert!(matches!(
        conn.send_signed("test.echo", Params::new(), 4, Instant::now()),
        Err((4, ClientError::Closed))
    ));
}
