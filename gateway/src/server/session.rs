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
    /// The queue of this connection's pushes (registered with a clone).
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

/// Most messages written before one flush.
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

async fn run(gateway: Arc<Gateway>, mut socket: WebSocket, return_rate_limits: bool) {
    let config = gateway.config.clone();
    // Pushes come from the user-data router through this queue; answers are written by this
    // task itself, with the pushes queued meanwhile (no writer task, no hand-off per answer).
    let (out, mut pushes) = mpsc::channel::<Message>(config.outbound_queue.max(1));
    let connection = gateway.connection_id();
    let mut session = Session {
        id: connection,
        connected_ms: super::now_ms(),
        logon: None,
        return_rate_limits,
        weight: Window::default(),
        orders: Window::default(),
        ids: crate::api::orders::ClientIdGen::new(gateway.client_id_prefix(connection)),
        out,
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
        // What is ready to go out goes first (biased), so answers leave as soon as they are
        // complete and a busy connection's reading waits for its writing (backpressure).
        let first = tokio::select! {
            biased;
            _ = cut.notified() => break End::SlowConsumer,
            Some(text) = pending.next(), if !pending.is_empty() => Message::Text(text.into()),
            Some(push) = pushes.recv() => push,
            frame = socket.next(), if pending.len() < config.max_in_flight => {
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
                            next = socket.next().now_or_never();
                        }
                        Ok(_) => {}
                    }
                }
                if let Some(end) = ended {
                    break end;
                }
                continue;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > config.idle_timeout {
                    break End::Close(close_frame(1001, "idle timeout"));
                }
                Message::Ping(Vec::new().into())
            }
        };
        // A client that leaves it unwritten for the whole timeout is taken not to read.
        match within(
            config.slow_client_timeout,
            write_out(&mut socket, first, &mut pending, &mut pushes),
        )
        .await
        {
            Some(Ok(())) => {}
            Some(Err(_)) => break End::Peer,
            None => {
                inc(&gateway.metrics.slow_consumers_cut);
                break End::SlowConsumer;
            }
        }
    };
    if let Some((id, account)) = session.subscription.take() {
        gateway.user_streams.unregister(account, session.id, id);
    }
    drop(session);
    match end {
        End::SlowConsumer => {
            // The client stopped reading: drop the connection without waiting for it.
            tracing::info!(connection, "outbound queue full: disconnecting");
        }
        End::Peer | End::Close(_) => {
            // Answers still in progress go out while the client still reads (their commands
            // take effect whatever happens to the connection), within a limit.
            let finish = async {
                while let Some(text) = pending.next().await {
                    socket.feed(Message::Text(text.into())).await?;
                }
                if let End::Close(frame) = end {
                    socket.feed(frame).await?;
                }
                socket.flush().await?;
                socket.close().await
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), finish).await;
        }
    }
    tracing::debug!(connection, "disconnected");
}

/// Writes `first`, then every answer already complete and every push already queued, up to a
/// batch, and flushes them together: one write syscall for all of them.
async fn write_out(
    socket: &mut WebSocket,
    first: Message,
    pending: &mut Pending,
    pushes: &mut mpsc::Receiver<Message>,
) -> Result<(), axum::Error> {
    socket.feed(first).await?;
    for _ in 1..WRITE_BATCH {
        let next = match pending.next().now_or_never() {
            Some(Some(text)) => Message::Text(text.into()),
            _ => match pushes.try_recv() {
                Ok(push) => push,
                Err(_) => break,
            },
        };
        socket.feed(next).await?;
    }
    socket.flush().await
}

/// `fut`'s output, or `None` when it takes longer than `limit` (no timer is set up when it
/// completes at once, as writes to a reading client do).
async fn within<F: std::future::Future>(limit: std::time::Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    if let Some(done) = (&mut fut).now_or_never() {
        return Some(done);
    }
    tokio::time::timeout(limit, fut).await.ok()
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
    /// The client left an answer unwritten for the slow-client timeout, or a push found the
    /// push queue full.
    SlowConsumer,
    /// The server closes with this frame.
    Close(Message),
}
