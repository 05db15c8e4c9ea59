//! Who subscribes to which stream, and the fan-out of rendered payloads.
//!
//! Every payload is rendered once per stream (and wrapped once for combined-stream
//! subscribers), then offered to each subscriber's bounded queue with `try_send`. A full
//! queue cuts that subscriber off at once: it is removed from every stream and its
//! connection is told to send the error message and close. The publisher never waits.

use axum::extract::ws::{Message, Utf8Bytes};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, Notify};

/// A connection as the registry sees it.
#[derive(Debug, Clone)]
pub(crate) struct Subscriber {
    /// Connection id.
    pub conn: u64,
    /// Its bounded outbound queue.
    pub tx: mpsc::Sender<Message>,
    /// Whether payloads are wrapped as `{"stream","data"}`.
    pub combined: Arc<AtomicBool>,
    /// Notified when the queue overflowed.
    pub cut: Arc<Notify>,
    /// Set once cut (the first overflow wins).
    pub is_cut: Arc<AtomicBool>,
}

/// Counters of the fan-out.
#[derive(Debug, Default)]
pub struct PushMetrics {
    /// Messages queued to subscribers.
    pub messages: AtomicU64,
    /// Subscribers cut off for a full queue.
    pub slow_cut: AtomicU64,
}

/// Subscriptions by canonical stream name.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    streams: Mutex<HashMap<String, Vec<Subscriber>>>,
    pub metrics: PushMetrics,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Subscriber>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `sub` to `stream` (once per connection).
    pub fn subscribe(&self, stream: &str, sub: &Subscriber) {
        let mut g = self.lock();
        let subs = g.entry(stream.to_string()).or_default();
        if !subs.iter().any(|s| s.conn == sub.conn) {
            subs.push(sub.clone());
        }
    }

    /// Removes connection `conn` from `stream`.
    pub fn unsubscribe(&self, stream: &str, conn: u64) {
        let mut g = self.lock();
        if let Some(subs) = g.get_mut(stream) {
            subs.retain(|s| s.conn != conn);
            if subs.is_empty() {
                g.remove(stream);
            }
        }
    }

    /// Whether anyone subscribes to `stream`.
    pub fn has(&self, stream: &str) -> bool {
        self.lock().contains_key(stream)
    }

    /// Offers the payload `render()` (called only if someone subscribes) to every subscriber
    /// of `stream`.
    pub fn publish(&self, stream: &str, render: impl FnOnce() -> String) {
        let mut g = self.lock();
        let Some(subs) = g.get_mut(stream) else {
            return;
        };
        let payload = render();
        let raw = Utf8Bytes::from(payload.as_str());
        let mut wrapped: Option<Utf8Bytes> = None;
        let mut sent = 0u64;
        let mut cut_any = false;
        subs.retain(|s| {
            let text = if s.combined.load(Ordering::Relaxed) {
                wrapped
                    .get_or_insert_with(|| {
                        Utf8Bytes::from(format!(r#"{{"stream":"{stream}","data":{payload}}}"#))
                    })
                    .clone()
            } else {
                raw.clone()
            };
            match s.tx.try_send(Message::Text(text)) {
                Ok(()) => {
                    sent += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if !s.is_cut.swap(true, Ordering::AcqRel) {
                        s.cut.notify_one();
                        self.metrics.slow_cut.fetch_add(1, Ordering::Relaxed);
                    }
                    cut_any = true;
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        if subs.is_empty() {
            g.remove(stream);
        }
        if cut_any {
            // A cut connection leaves every stream at once.
            g.retain(|_, subs| {
                subs.retain(|s| !s.is_cut.load(Ordering::Acquire));
                !subs.is_empty()
            });
        }
        self.metrics.messages.fetch_add(sent, Ordering::Relaxed);
    }
}
