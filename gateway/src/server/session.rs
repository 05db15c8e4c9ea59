//! One WebSocket API connection: reading requests, answering them in order, pushes, pings,
//! and the limits described in the [module docs](super).

use super::dispatch::{self, Reply};
use super::limits::Window;
use super::metrics::inc;
use super::Gateway;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use matcher::AccountId;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

/// Query parameters of the connection URL (Binance: `?returnRateLimits=false`).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ConnectParams {
    #[serde(rename = "returnRateLimits")]
    return_rate_limits: Option<bool>,
}

/// The authenticated identity of a logged-on session.
#[derive(Debug, Clone)]
pub(crate) struct Logon {
    pub api_key: String,
    pub account: AccountId,
    pub since_ms: u64,
}

/// Per-connection state the dispatcher reads and changes.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: u64,
    pub connected_ms: u64,
    pub logon: Option<Logon>,
    pub return_rate_limits: bool,
    pub weight: Window,
    pub orders: Window,
    /// Client order ids generated for requests without one.
    pub ids: crate::api::orders::ClientIdGen,
    /// The outbound queue (pushes are registered with a clone).
    pub out: mpsc::Sender<Message>,
    /// Set when a push could not be queued: the session must close.
    pub cut: Arc<Notify>,
    /// The user-data subscription, if any.
    pub subscription: Option<(u64, AccountId)>,
}

/// `GET /ws-api/v3`: the connection cap, then the upgrade.
pub(crate) async fn upgrade(
    ws: WebSocketUpgrade,
    State(gateway): State<Arc<Gateway>>,
    Query(params): Query<ConnectParams>,
) -> Response {
    let metrics = &gateway.metrics;
    let open = metrics.connections.fetch_add(1, Ordering::AcqRel);
    if open as usize >= gateway.config.max_connections {
        metrics.connections.fetch_sub(1, Ordering::AcqRel);
        inc(&metrics.connections_refused);
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    }
    inc(&metrics.connections_total);
    let max = gateway.config.max_message_bytes;
    let return_rate_limits = params.return_rate_limits.unwrap_or(true);
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_failed_upgrade({
            let gateway = Arc::clone(&gateway);
            move |_| {
                gateway.metrics.connections.fetch_sub(1, Ordering::AcqRel);
            }
        })
        .on_upgrade(move |socket| async move {
            run(Arc::clone(&gateway), socket, return_rate_limits).await;
            gateway.metrics.connections.fetch_sub(1, Ordering::AcqRel);
        })
}

/// Most queued messages written before one flush.
const WRITE_BATCH: usize = 64;

/// The socket read buffer. tungstenite zero-fills the free part of its read buffer before
/// every read, so its 128 KiB default costs a 128 KiB memset per read (about 4% of the
/// gateway's CPU under load); requests are a few hundred bytes.
pub(crate) const READ_BUFFER_BYTES: usize = 8 * 1024;

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

async fn run(gateway: Arc<Gateway>, socket: WebSocket, return_rate_limits: bool) {
    let config = gateway.config.clone();
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Message>(config.outbound_queue.max(1));
    let writer = tokio::spawn(async move {
        // Everything already queued goes out with one flush (one write syscall), up to a
        // batch, so a busy connection does not pay a syscall per answer.
        'write: while let Some(first) = out_rx.recv().await {
            let mut closing = matches!(first, Message::Close(_));
            if sink.feed(first).await.is_err() {
                break;
            }
            for _ in 1..WRITE_BATCH {
                if closing {
                    break;
                }
                let Ok(m) = out_rx.try_recv() else { break };
                closing = matches!(m, Message::Close(_));
                if sink.feed(m).await.is_err() {
                    break 'write;
                }
            }
            if sink.flush().await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let connection = gateway.connection_id();
    let mut session = Session {
        id: connection,
        connected_ms: super::now_ms(),
        logon: None,
        return_rate_limits,
        weight: Window::default(),
        orders: Window::default(),
        ids: crate::api::orders::ClientIdGen::new(gateway.client_id_prefix(connection)),
        out: out.clone(),
        cut: Arc::new(Notify::new()),
        subscription: None,
    };
    tracing::debug!(connection = session.id, "connected");
    let mut pending: Pending = FuturesOrdered::new();
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(config.ping_interval);
    ping.tick().await;
    let cut = Arc::clone(&session.cut);
    let end = loop {
        tokio::select! {
            biased;
            _ = cut.notified() => break End::SlowConsumer,
            Some(text) = pending.next(), if !pending.is_empty() => {
                let text: String = text;
                // A full queue pauses this session (no reading, so the client's own requests
                // wait in its socket) until the writer makes room; a client that stays
                // unread for the whole timeout is cut off.
                if !send_within(&gateway, &out, Message::Text(text.into()), config.slow_client_timeout).await {
                    break End::SlowConsumer;
                }
            }
            frame = stream.next(), if pending.len() < config.max_in_flight => {
                last_heard = Instant::now();
                // Frames already read are handled in one go, their commands queued for the
                // sequencer with a single wake-up (the guard wakes it when it drops; it
                // cannot live across an await). Draining stops after a request whose node
                // work starts only when its reply future is first polled (queries), so a
                // connection's requests still reach the node in the order sent.
                let _wakes = gateway.node.defer_wakes();
                let mut next = Some(frame);
                let mut ended = None;
                while let Some(frame) = next.take() {
                    match on_frame(&gateway, &mut session, &mut pending, frame) {
                        Err(end) => {
                            ended = Some(end);
                            break;
                        }
                        Ok(true) if pending.len() < config.max_in_flight => {
                            next = stream.next().now_or_never();
                        }
                        Ok(_) => {}
                    }
                }
                if let Some(end) = ended {
                    break end;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > config.idle_timeout {
                    break End::Close(close_frame(1001, "idle timeout"));
                }
                // A full queue skips this ping (answers are waiting to go out anyway).
                if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(Message::Ping(Vec::new().into())) {
                    break End::Peer;
                }
            }
        }
    };
    if let Some((id, account)) = session.subscription.take() {
        gateway.user_streams.unregister(account, session.id, id);
    }
    match end {
        End::SlowConsumer => {
            // The client stopped reading: drop the connection without waiting for it.
            tracing::info!(
                connection = session.id,
                "outbound queue full: disconnecting"
            );
            writer.abort();
        }
        End::Peer | End::Close(_) => {
            // Answers still in progress go out while the client still reads (their commands
            // take effect whatever happens to the connection).
            while let Some(text) = pending.next().await {
                if out.try_send(Message::Text(text.into())).is_err() {
                    break;
                }
            }
            if let End::Close(frame) = end {
                let _ = out.try_send(frame);
            }
            drop(out);
            drop(session);
            let mut writer = writer;
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
        }
    }
    tracing::debug!("disconnected");
}

type Pending = FuturesOrdered<
    futures_util::future::Either<
        futures_util::future::Ready<String>,
        futures_util::future::BoxFuture<'static, String>,
    >,
>;

/// Handles one frame; `Ok(true)` when the next frame already read may be handled at once
/// (see [`dispatch::drainable`]), `Err` when the session ends.
fn on_frame(
    gateway: &Arc<Gateway>,
    session: &mut Session,
    pending: &mut Pending,
    frame: Option<Result<Message, axum::Error>>,
) -> Result<bool, End> {
    match frame {
        Some(Ok(Message::Text(text))) => {
            inc(&gateway.metrics.requests);
            let (reply, drainable) = dispatch::handle(gateway, session, text.as_str());
            match reply {
                Reply::Now(text) => pending.push_back(futures_util::future::Either::Left(
                    futures_util::future::ready(text),
                )),
                Reply::Later(fut) => pending.push_back(futures_util::future::Either::Right(fut)),
            }
            Ok(drainable)
        }
        Some(Ok(Message::Binary(_))) => {
            inc(&gateway.metrics.requests);
            let text = dispatch::binary_frame(gateway, session);
            pending.push_back(futures_util::future::Either::Left(
                futures_util::future::ready(text),
            ));
            Ok(true)
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(true),
        Some(Ok(Message::Close(_))) | None => Err(End::Peer),
        Some(Err(e)) => {
            tracing::debug!(connection = session.id, error = %e, "read error");
            let msg = e.to_string();
            if msg.contains("too long") || msg.contains("too big") {
                return Err(End::Close(close_frame(1009, "message too big")));
            }
            Err(End::Peer)
        }
    }
}

/// Why a session ends.
enum End {
    /// The peer closed or the socket failed.
    Peer,
    /// The outbound queue was full (or a push could not be queued).
    SlowConsumer,
    /// The server closes with this frame.
    Close(Message),
}

/// Queues a message, waiting up to `timeout` for room; false (and the slow-consumer counter)
/// when there was none in time, or the queue is closed.
async fn send_within(
    gateway: &Gateway,
    out: &mpsc::Sender<Message>,
    message: Message,
    timeout: std::time::Duration,
) -> bool {
    match out.try_send(message) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(message)) => {
            match tokio::time::timeout(timeout, out.send(message)).await {
                Ok(Ok(())) => true,
                Ok(Err(_)) => false,
                Err(_) => {
                    inc(&gateway.metrics.slow_consumers_cut);
                    false
                }
            }
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}
