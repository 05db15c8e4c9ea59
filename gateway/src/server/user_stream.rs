//! The user data stream: one task follows the node's event broadcast and queues
//! `executionReport` / `outboundAccountPosition` pushes on the sessions subscribed for each
//! account touched, rendering them from its own mirror of each subscribed account's orders
//! (so it never waits for the matcher thread). It also swaps in a new symbol catalogue when
//! the configuration changes.
//!
//! A subscription starts exactly after one command: the subscribe request runs a query on the
//! matcher thread that copies the account's open orders and the last command applied, `N`,
//! into a queue the router reads before each batch; the router starts the account's mirror
//! from that copy just before batch `N + 1` (the query ran before the matcher broadcast it),
//! so every command sequenced after the subscription (every one the client sends after the
//! answer) is pushed, each exactly once. Accounts nobody subscribes to cost the router
//! nothing but a look at the batch.
//!
//! Bounded everywhere: a session whose outbound queue is full is cut off (its subscription
//! dropped, the session closed, see [`super`]); if this task itself falls behind the broadcast
//! ring, every subscription is dropped and its session closed, because the pushes it missed
//! cannot be recovered in order (clients reconnect and resynchronise with
//! `openOrders.status` / `account.status`).

use super::metrics::inc;
use super::Gateway;
use crate::api::user_data;
use crate::api::{IndexedOrder, OrderIndex};
use axum::extract::ws::Message;
use matcher::AccountId;
use node::{CommandEvents, NodeError};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{broadcast, mpsc, Notify};

/// An account's open orders as the node had them after command `seq`: where the router's
/// mirror of the account starts.
#[derive(Debug)]
struct Seed {
    account: AccountId,
    seq: u64,
    orders: Vec<IndexedOrder>,
}

/// Seeds written by subscribe queries on the matcher thread, waiting for the router.
#[derive(Debug, Default)]
struct Seeds {
    queue: Mutex<Vec<Seed>>,
    len: AtomicUsize,
}

impl Seeds {
    fn push(&self, seed: Seed) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.push(seed);
        self.len.store(queue.len(), Ordering::Release);
    }

    fn take(&self) -> Vec<Seed> {
        if self.len.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        self.len.store(0, Ordering::Release);
        std::mem::take(&mut *queue)
    }
}

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
    seeds: Arc<Seeds>,
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
        subscription
    }

    /// Removes a subscription.
    pub(crate) fn unregister(&self, account: AccountId, session: u64, subscription: u64) {
        let mut map = self
            .by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(subs) = map.get_mut(&account) {
            subs.retain(|s| !(s.session == session && s.subscription == subscription));
            if subs.is_empty() {
                map.remove(&account);
            }
        }
    }

    /// Whether anyone subscribes to `account`.
    fn has(&self, account: AccountId) -> bool {
        self.by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&account)
    }

    /// Drops the subscriptions of `account` and closes their sessions.
    fn cut_account(&self, account: AccountId) {
        let mut map = self
            .by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(subs) = map.remove(&account) {
            for s in &subs {
                s.cut.notify_one();
            }
        }
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
    }
}

/// Starts `account`'s user data stream at the current command: copies its open orders on
/// the matcher thread for the router (see the module docs). Returns once the copy is queued;
/// the subscription must already be registered.
pub(crate) async fn seed(gateway: &Gateway, account: AccountId) -> Result<(), NodeError> {
    let seeds = Arc::clone(&gateway.user_streams.seeds);
    gateway
        .node
        .query(move |engine, index| {
            let orders = engine
                .open_orders(account, None)
                .iter()
                .filter_map(|r| index.get(account, r.order_id).copied())
                .collect();
            seeds.push(Seed {
                account,
                seq: engine.last_cmd_seq(),
                orders,
            });
        })
        .await
}

/// The mirrors of the subscribed accounts' orders, each exactly as the last batch routed left
/// it.
type Mirrors = HashMap<AccountId, OrderIndex>;

/// Starts the mirrors whose seeds were taken just before batch `next`; keeps the seeds of
/// later commands for later batches.
fn start_mirrors(gateway: &Gateway, pending: &mut Vec<Seed>, mirrors: &mut Mirrors, next: u64) {
    pending.extend(gateway.user_streams.seeds.take());
    if pending.is_empty() {
        return;
    }
    let registry = &gateway.user_streams;
    let mut started = false;
    pending.retain_mut(|seed| {
        if seed.seq >= next {
            return true;
        }
        match mirrors.entry(seed.account) {
            // Already mirrored (another subscription of the account): that mirror is current.
            Entry::Occupied(_) => {}
            Entry::Vacant(slot) if seed.seq + 1 == next => {
                // Closed orders are dropped before the batch after the one closing them.
                slot.insert(OrderIndex::of_orders(std::mem::take(&mut seed.orders), 0));
                started = true;
            }
            Entry::Vacant(_) => {
                // Commands between the copy and this batch never reached the router (it fell
                // behind the broadcast): the account's pushes cannot be complete.
                tracing::warn!(
                    account = seed.account.0,
                    seed = seed.seq,
                    next,
                    "user data seed missed commands; cutting its subscribers"
                );
                registry.cut_account(seed.account);
            }
        }
        false
    });
    if started {
        // Mirrors of accounts nobody subscribes to any more go.
        mirrors.retain(|account, _| registry.has(*account));
    }
}

/// Folds one command into the mirrors of the accounts it touched and queues their pushes for
/// the sessions subscribed.
fn deliver(gateway: &Gateway, batch: &CommandEvents, mirrors: &mut Mirrors) {
    let registry = &gateway.user_streams;
    let markets = gateway.markets();
    let mut map = registry
        .by_account
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for account in user_data::touched_accounts(batch) {
        let Some(index) = mirrors.get_mut(&account) else {
            continue;
        };
        let Some(subs) = map.get_mut(&account) else {
            // Unsubscribed: the mirror goes with the last subscription.
            mirrors.remove(&account);
            continue;
        };
        index.apply_events_of(account, batch);
        let mut pushes = user_data::execution_reports(batch, account, &markets, index);
        pushes.extend(user_data::account_position(batch, account, &markets));
        subs.retain(|s| {
            for event in &pushes {
                let text = user_data::push(s.subscription, event);
                if s.out.try_send(Message::Text(text.into())).is_err() {
                    // Full (a client that stopped reading) or closed: cut it off.
                    s.cut.notify_one();
                    inc(&gateway.metrics.slow_consumers_cut);
                    return false;
                }
                inc(&gateway.metrics.pushes);
            }
            true
        });
        if subs.is_empty() {
            map.remove(&account);
            mirrors.remove(&account);
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

/// The routing task: runs until the node's broadcast closes. `events` must have been
/// subscribed before any subscription is made.
pub(crate) async fn route(
    gateway: Arc<Gateway>,
    mut events: broadcast::Receiver<Arc<CommandEvents>>,
) {
    let mut mirrors = Mirrors::new();
    let mut pending = Vec::new();
    loop {
        match events.recv().await {
            Ok(batch) => {
                if crate::api::Markets::is_changed_by(&batch.events) {
                    reload_markets(&gateway).await;
                }
                start_mirrors(&gateway, &mut pending, &mut mirrors, batch.seq);
                if !mirrors.is_empty() {
                    deliver(&gateway, &batch, &mut mirrors);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "user data router fell behind the event broadcast; cutting subscribers"
                );
                inc(&gateway.metrics.user_stream_lagged);
                // Every seed queued so far belongs to a subscription registered before the cut
                // below, which closes it.
                pending.clear();
                drop(gateway.user_streams.seeds.take());
                gateway.user_streams.cut_all();
                mirrors.clear();
                reload_markets(&gateway).await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
