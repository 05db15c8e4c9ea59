//! The user data stream: one task follows the node's event broadcast and queues
//! `executionReport` / `outboundAccountPosition` pushes on the sessions subscribed for each
//! account touched, rendering them from its own mirror of the order index (so it never waits
//! for the matcher thread). It also swaps in a new symbol catalogue when the configuration
//! changes.
//!
//! Bounded everywhere: a session whose outbound queue is full is cut off (its subscription
//! dropped, the session closed, see [`super`]); if this task itself falls behind the broadcast
//! ring, every subscription is dropped and its session closed, because the pushes it missed
//! cannot be recovered in order (clients reconnect and resynchronise with
//! `openOrders.status` / `account.status`).

use super::metrics::inc;
use super::Gateway;
use crate::api::user_data;
use crate::api::OrderIndex;
use axum::extract::ws::Message;
use matcher::AccountId;
use node::CommandEvents;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{broadcast, mpsc, Notify};

#[derive(Debug)]
struct Subscriber {
    session: u64,
    subscription: u64,
    out: mpsc::Sender<Message>,
    cut: Arc<Notify>,
}

/// Subscriptions by account.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    by_account: Mutex<HashMap<AccountId, Vec<Subscriber>>>,
    next_id: AtomicU64,
    count: AtomicU64,
}

impl Registry {
    /// Subscribes a session to `account`'s pushes; returns the subscription id.
    pub(crate) fn register(
        &self,
        account: AccountId,
        session: u64,
        out: mpsc::Sender<Message>,
        cut: Arc<Notify>,
    ) -> u64 {
        let subscription = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(account)
            .or_default()
            .push(Subscriber {
                session,
                subscription,
                out,
                cut,
            });
        self.count.fetch_add(1, Ordering::Relaxed);
        subscription
    }

    /// Removes a subscription.
    pub(crate) fn unregister(&self, account: AccountId, session: u64, subscription: u64) {
        let mut map = self
            .by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(subs) = map.get_mut(&account) {
            let before = subs.len();
            subs.retain(|s| !(s.session == session && s.subscription == subscription));
            let removed = (before - subs.len()) as u64;
            self.count.fetch_sub(removed, Ordering::Relaxed);
            if subs.is_empty() {
                map.remove(&account);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Drops every subscription and closes its session.
    fn cut_all(&self) {
        let mut map = self
            .by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in map.values().flatten() {
            s.cut.notify_one();
        }
        map.clear();
        self.count.store(0, Ordering::Relaxed);
    }
}

/// Queues the pushes of one command for the subscribed accounts it touched. `index` is the
/// router's mirror of the order index, exactly as the command left it.
fn deliver(gateway: &Gateway, batch: &CommandEvents, index: &OrderIndex) {
    let registry = &gateway.user_streams;
    if registry.is_empty() {
        return;
    }
    let markets = gateway.markets();
    let mut map = registry
        .by_account
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for account in user_data::touched_accounts(batch) {
        let Some(subs) = map.get_mut(&account) else {
            continue;
        };
        let mut pushes = user_data::execution_reports(batch, account, &markets, index);
        pushes.extend(user_data::account_position(batch, account, &markets));
        subs.retain(|s| {
            for event in &pushes {
                let text = user_data::push(s.subscription, event);
                if s.out.try_send(Message::Text(text.into())).is_err() {
                    // Full (a client that stopped reading) or closed: cut it off.
                    s.cut.notify_one();
                    inc(&gateway.metrics.slow_consumers_cut);
                    registry.count.fetch_sub(1, Ordering::Relaxed);
                    return false;
                }
                inc(&gateway.metrics.pushes);
            }
            true
        });
        if subs.is_empty() {
            map.remove(&account);
        }
    }
}

/// A copy of the node's order index and the last command it has applied.
async fn mirror(gateway: &Gateway) -> Option<(u64, OrderIndex)> {
    match gateway
        .node
        .query(|engine, index| (engine.last_cmd_seq(), index.working_copy()))
        .await
    {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "cannot copy the order index for the user data router");
            None
        }
    }
}

async fn reload_markets(gateway: &Gateway) {
    match super::load_markets(&gateway.node).await {
        Ok(m) => {
            *gateway
                .markets
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Arc::new(m)
        }
        Err(e) => tracing::warn!(error = %e, "reloading the symbol catalogue failed"),
    }
}

/// The routing task: runs until the node's broadcast closes. It keeps its own mirror of the
/// order index, fed the same commands as the node's, so rendering a push never waits for the
/// matcher thread. `events` must have been subscribed before this is called, so the mirror
/// copied here misses nothing after it.
pub(crate) async fn route(
    gateway: Arc<Gateway>,
    mut events: broadcast::Receiver<Arc<CommandEvents>>,
) {
    let mut mirror = mirror(&gateway).await;
    loop {
        match events.recv().await {
            Ok(batch) => {
                if crate::api::Markets::is_changed_by(&batch.events) {
                    reload_markets(&gateway).await;
                }
                let Some((applied, index)) = mirror.as_mut() else {
                    continue;
                };
                if batch.seq <= *applied {
                    // Already in the copy.
                    continue;
                }
                index.apply_events(&batch);
                *applied = batch.seq;
                deliver(&gateway, &batch, index);
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "user data router fell behind the event broadcast; cutting subscribers"
                );
                inc(&gateway.metrics.user_stream_lagged);
                gateway.user_streams.cut_all();
                reload_markets(&gateway).await;
                mirror = self::mirror(&gateway).await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
