//! A connection driven by its owner's task, for the load generator: no reader or writer task,
//! and no channel, timer, oneshot, task or boxed future per request.
//!
//! The owner sends requests with [`Connection::send_signed`] (encoded straight into the frame
//! and buffered; [`Connection::flush`] starts writing them) and waits in
//! [`Connection::receive`], which goes on writing whatever is still buffered while it waits
//! for frames, and completes each response in place: it stamps the frame's arrival before
//! reading it, reads it once into an [`Outcome`] and hands it, with the token the request was
//! sent with, to the owner's [`Receiver`]. Requests that get no response within the request
//! timeout are failed by [`Connection::expire`], which the owner calls now and then.
//!
//! Bounds: at most [`ClientConfig::max_in_flight`] requests await a response
//! ([`Connection::can_send`] is false at that many, and while earlier frames are still being
//! written); execution reports are handed over as they arrive, never queued.

use super::frame::{read_frame, Incoming};
use super::summary::{CancelReplaceData, EventWire, ReplyWire};
use super::wire::{encode_request, Params, Security};
use super::{
    open_socket, ClientConfig, ClientError, ExecutionReport, Failure, OrderReply, Outcome, Ws,
};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::future::poll_fn;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Where a [`Connection`] delivers what arrives.
pub trait Receiver<T> {
    /// The outcome of the request sent with `token`; `arrived` is when its frame was read
    /// off the socket (before parsing), or when a timeout or the close was noticed.
    fn on_reply(&mut self, token: T, arrived: Instant, outcome: Outcome);
    /// An `executionReport` pushed on the user data stream; `arrived` as for
    /// [`Receiver::on_reply`].
    fn on_report(&mut self, report: &ExecutionReport<'_>, arrived: Instant);
}

/// Hashes request ids (sequential `u64`s) with one multiplication (Fibonacci hashing), which
/// spreads them over the whole word; SipHash is needless work for ids we pick ourselves.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct Pending<T> {
    token: T,
    deadline: Instant,
}

/// One WebSocket API connection owned by one task. See the module docs.
pub struct Connection<T> {
    ws: Ws,
    config: ClientConfig,
    logged_on: bool,
    pending: HashMap<u64, Pending<T>, BuildHasherDefault<IdHasher>>,
    next_id: u64,
    /// Frames handed to the socket's buffer and not yet all written.
    unflushed: bool,
    /// Writing them out could not finish at once (the socket is full): no more requests
    /// until it has.
    blocked: bool,
    closed: bool,
    /// Scratch space for signature payloads.
    payload: String,
}

impl<T> std::fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("in_flight", &self.pending.len())
            .field("logged_on", &self.logged_on)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// A context whose waker does nothing, to try the socket without waiting: whoever waits
/// next ([`Connection::receive`]) registers its own waker.
fn try_now<R>(f: impl FnOnce(&mut Context<'_>) -> Poll<R>) -> Poll<R> {
    f(&mut Context::from_waker(
        futures_util::task::noop_waker_ref(),
    ))
}

impl<T> Connection<T> {
    /// Connects (TCP_NODELAY on). `config.outbound_queue` and `config.user_data_queue` do not
    /// apply: nothing is queued between tasks.
    pub async fn connect(url: &str, config: ClientConfig) -> Result<Connection<T>, ClientError> {
        let ws = open_socket(url).await?;
        let capacity = config.max_in_flight.max(1);
        Ok(Connection {
            ws,
            config,
            logged_on: false,
            pending: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            next_id: 1,
            unflushed: false,
            blocked: false,
            closed: false,
            payload: String::new(),
        })
    }

    /// Whether `session.logon` succeeded.
    pub fn is_logged_on(&self) -> bool {
        self.logged_on
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Requests awaiting a response.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// `session.logon` (signed): afterwards signed requests carry only `timestamp`. Only
    /// before the first [`Connection::send_signed`].
    pub async fn logon(&mut self) -> Result<Value, ClientError> {
        let result = self.call("session.logon", true).await?;
        self.logged_on = true;
        Ok(result)
    }

    /// `userDataStream.subscribe` (signed unless logged on): execution reports then go to
    /// [`Receiver::on_report`]. Only before the first [`Connection::send_signed`].
    pub async fn subscribe_user_data(&mut self) -> Result<Value, ClientError> {
        self.call("userDataStream.subscribe", false).await
    }

    /// Sends a signed request without parameters (signed even when logged on with
    /// `force_signature`) and waits for its result: setup requests, before any pipelined
    /// one (other responses would have nowhere to go).
    async fn call(&mut self, method: &str, force_signature: bool) -> Result<Value, ClientError> {
        if !self.pending.is_empty() {
            return Err(ClientError::Busy {
                method: method.to_string(),
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let security = Security::for_signed(&self.config, method, self.logged_on, force_signature)?;
        let mut text = String::with_capacity(256);
        encode_request(
            &mut text,
            &mut self.payload,
            id,
            method,
            Params::new(),
            security,
        )?;
        if self.closed || self.ws.send(Message::text(text)).await.is_err() {
            self.closed = true;
            return Err(ClientError::Closed);
        }
        let timeout = self.config.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(frame) => frame,
                Err(_) => {
                    return Err(ClientError::Timeout {
                        id,
                        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    })
                }
            };
            match frame {
                Some(Ok(Message::Text(text))) => {
                    match read_frame::<Value, Value, Value>(text.as_str()) {
                        Incoming::Response { id: got, outcome } if got == id => {
                            return outcome
                                .map(|r| r.unwrap_or(Value::Null))
                                .map_err(ClientError::from);
                        }
                        other => tracing::debug!(?other, "frame while waiting for {method}"),
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    self.closed = true;
                    return Err(ClientError::Closed);
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Whether a request may be sent now: the connection is open, fewer than
    /// `max_in_flight` requests await a response, and the socket is not full.
    pub fn can_send(&mut self) -> bool {
        if self.closed || self.blocked || self.pending.len() >= self.config.max_in_flight.max(1) {
            return false;
        }
        match try_now(|cx| Pin::new(&mut self.ws).poll_ready(cx)) {
            Poll::Ready(Ok(())) => true,
            // Blocked, or failed: `receive` flushes (and finds out which).
            _ => {
                self.unflushed = true;
                self.blocked = true;
                false
            }
        }
    }

    /// Encodes a signed request (`timestamp`, and unless logged on `apiKey` and `signature`)
    /// into the socket's write buffer, to be written by [`Connection::flush`] or while
    /// [`Connection::receive`] waits; its outcome will go to [`Receiver::on_reply`] with
    /// `token`. Call only when [`Connection::can_send`]. On error the token comes back.
    pub fn send_signed(
        &mut self,
        method: &str,
        params: Params<'_>,
        token: T,
        now: Instant,
    ) -> Result<u64, (T, ClientError)> {
        if self.closed {
            return Err((token, ClientError::Closed));
        }
        let security = match Security::for_signed(&self.config, method, self.logged_on, false) {
            Ok(s) => s,
            Err(e) => return Err((token, e)),
        };
        let id = self.next_id;
        let mut text = String::with_capacity(512);
        if let Err(e) = encode_request(&mut text, &mut self.payload, id, method, params, security) {
            return Err((token, e));
        }
        if let Err(error) = Pin::new(&mut self.ws).start_send(Message::text(text)) {
            tracing::debug!(%error, "write failed");
            self.closed = true;
            return Err((token, ClientError::Closed));
        }
        self.next_id += 1;
        self.unflushed = true;
        self.pending.insert(
            id,
            Pending {
                token,
                deadline: now + self.config.request_timeout,
            },
        );
        Ok(id)
    }

    /// Starts writing the buffered frames (without waiting; [`Connection::receive`] writes
    /// the rest).
    pub fn flush(&mut self) {
        if self.unflushed {
            match try_now(|cx| Pin::new(&mut self.ws).poll_flush(cx)) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                // An error shows again (and closes) in `receive`.
                Poll::Ready(Err(_)) => {}
                Poll::Pending => self.blocked = true,
            }
        }
    }

    /// Waits for at least one frame and handles every frame already read, up to `burst`;
    /// meanwhile writes what is buffered, and returns as soon as that is all written if it
    /// was holding sending up ([`Connection::can_send`]). On close (or a transport error)
    /// every request in flight fails with [`Failure::Closed`] and this returns false; it
    /// returns false at once when the connection is already closed.
    pub async fn receive(&mut self, receiver: &mut impl Receiver<T>, burst: usize) -> bool {
        if self.closed {
            // Closed by a failed write: what was in flight fails now.
            self.close_pending(receiver);
            return false;
        }
        let first = poll_fn(|cx| {
            if self.unflushed {
                match Pin::new(&mut self.ws).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.unflushed = false;
                        if std::mem::take(&mut self.blocked) {
                            return Poll::Ready(None);
                        }
                    }
                    Poll::Ready(Err(error)) => {
                        tracing::debug!(%error, "flush failed");
                        return Poll::Ready(Some(None));
                    }
                    Poll::Pending => {}
                }
            }
            Pin::new(&mut self.ws).poll_next(cx).map(Some)
        })
        .await;
        // Written out: the owner may send again.
        let Some(mut frame) = first else {
            return true;
        };
        let mut handled = 0;
        loop {
            // Arrival: before parsing, so latency does not depend on the response's size.
            let arrived = Instant::now();
            match frame {
                Some(Ok(Message::Text(text))) => self.dispatch(text.as_str(), arrived, receiver),
                Some(Ok(Message::Close(frame))) => {
                    tracing::debug!(?frame, "server closed the connection");
                    self.close_pending(receiver);
                    return false;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(%error, "read failed");
                    self.close_pending(receiver);
                    return false;
                }
                None => {
                    self.close_pending(receiver);
                    return false;
                }
            }
            handled += 1;
            if handled >= burst {
                return true;
            }
            match try_now(|cx| Pin::new(&mut self.ws).poll_next(cx)) {
                Poll::Ready(next) => frame = next,
                Poll::Pending => return true,
            }
        }
    }

    fn dispatch(&mut self, text: &str, arrived: Instant, receiver: &mut impl Receiver<T>) {
        match read_frame::<ReplyWire<'_>, CancelReplaceData<'_>, EventWire<'_>>(text) {
            Incoming::Response { id, outcome } => match self.pending.remove(&id) {
                Some(p) => {
                    let outcome = outcome
                        .map(|r| r.map(OrderReply::from).unwrap_or_default())
                        .map_err(Failure::from);
                    receiver.on_reply(p.token, arrived, outcome);
                }
                None => tracing::debug!(id, "response to a request nobody awaits"),
            },
            Incoming::Push {
                event: Some(event), ..
            } => {
                if let Some(report) = event.into_report() {
                    receiver.on_report(&report, arrived);
                }
            }
            Incoming::Push { event: None, .. } => tracing::debug!(text, "unrecognised push"),
            Incoming::Ignored => {}
        }
    }

    fn close_pending(&mut self, receiver: &mut impl Receiver<T>) {
        self.closed = true;
        let now = Instant::now();
        for (_, p) in self.pending.drain() {
            receiver.on_reply(p.token, now, Err(Failure::Closed));
        }
    }

    /// Fails every request whose response is overdue at `now` with [`Failure::Timeout`]
    /// (a response that comes later is dropped).
    pub fn expire(&mut self, now: Instant, receiver: &mut impl Receiver<T>) {
        if !self.pending.values().any(|p| p.deadline <= now) {
            return;
        }
        let overdue: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in overdue {
            if let Some(p) = self.pending.remove(&id) {
                receiver.on_reply(p.token, now, Err(Failure::Timeout));
            }
        }
    }

    /// Closes the connection (a close frame, flushed), within `grace`.
    pub async fn close(mut self, grace: Duration) {
        if !self.closed {
            let _ = tokio::time::timeout(grace, self.ws.close(None)).await;
        }
    }
}
