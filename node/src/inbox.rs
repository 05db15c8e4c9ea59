//! The matcher thread's inbox: a bounded multi-producer queue whose wake-ups can be
//! deferred.
//!
//! Under load the matcher thread takes what waits here between batches without sleeping on
//! the queue, so producers wake nobody. When it is idle it sleeps here, and with a plain
//! channel every request paid a futex wake (a system call for the sender and a context
//! switch for the consumer). A producer that is about to queue several requests in one go
//! (a gateway session with several frames already read) holds a [`DeferWakes`] guard: its
//! pushes only queue, and the guard wakes the consumer once when it is dropped. The guard
//! cannot cross an `.await` (it is not `Send`), so a deferred wake is at most one
//! synchronous stretch of code late, and it always happens (it is a `Drop`).
//!
//! Bounds: the node's sender checks [`Inbox::has_room`] under its sequencer lock before it
//! journals a command (refused when full) and waits on [`Inbox::room`] with a query; only
//! the one stop marker goes in beyond the capacity.

use std::cell::Cell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

thread_local! {
    /// The inbox (by address) whose wake-ups this thread is deferring, 0 for none.
    static DEFERRING: Cell<usize> = const { Cell::new(0) };
}

/// Why a push was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The bounded part of the queue is full.
    Full,
    /// The inbox is closed (every handle dropped).
    Closed,
}

struct State<T> {
    queue: VecDeque<T>,
    /// The consumer is blocked (or about to block) on the condition variable.
    sleeping: bool,
    closed: bool,
}

/// See the module docs.
pub(crate) struct Inbox<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    /// Signalled when the consumer takes items from a full queue.
    room: tokio::sync::Notify,
    capacity: usize,
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<T> Inbox<T> {
    /// An empty inbox admitting up to `capacity` bounded pushes at a time.
    pub(crate) fn new(capacity: usize) -> Self {
        Inbox {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(4096)),
                sleeping: false,
                closed: false,
            }),
            ready: Condvar::new(),
            room: tokio::sync::Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Queues `item`. `bounded`: refuse it with [`PushError::Full`] when the queue holds
    /// `capacity` items or more. Wakes the consumer unless this thread defers this inbox's
    /// wake-ups.
    pub(crate) fn push(&self, item: T, bounded: bool) -> Result<(), (T, PushError)> {
        let mut st = self.lock();
        if st.closed {
            return Err((item, PushError::Closed));
        }
        if bounded && st.queue.len() >= self.capacity {
            return Err((item, PushError::Full));
        }
        st.queue.push_back(item);
        if st.sleeping && DEFERRING.with(Cell::get) != self.address() {
            st.sleeping = false;
            drop(st);
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Whether a bounded push would find room now.
    pub(crate) fn has_room(&self) -> bool {
        self.lock().queue.len() < self.capacity
    }

    /// Notified when the consumer takes items from a full queue (or the inbox closes).
    pub(crate) fn room(&self) -> &tokio::sync::Notify {
        &self.room
    }

    /// Wakes the consumer if it sleeps while items wait.
    pub(crate) fn wake(&self) {
        let mut st = self.lock();
        if st.sleeping && !st.queue.is_empty() {
            st.sleeping = false;
            drop(st);
            self.ready.notify_one();
        }
    }

    /// Moves up to `max` items into `out`, blocking while the queue is empty. False once the
    /// inbox is closed and drained.
    pub(crate) fn recv_batch(&self, max: usize, out: &mut Vec<T>) -> bool {
        let mut st = self.lock();
        loop {
            if !st.queue.is_empty() {
                let was_full = st.queue.len() >= self.capacity;
                let n = st.queue.len().min(max.max(1));
                out.extend(st.queue.drain(..n));
                drop(st);
                if was_full {
                    self.room.notify_waiters();
                }
                return true;
            }
            if st.closed {
                return false;
            }
            st.sleeping = true;
            st = self.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.sleeping = false;
        }
    }

    /// Takes up to `max` items without waiting (none when the queue is empty).
    pub(crate) fn try_recv_batch(&self, max: usize, out: &mut Vec<T>) {
        let mut st = self.lock();
        if st.queue.is_empty() {
            return;
        }
        let was_full = st.queue.len() >= self.capacity;
        let n = st.queue.len().min(max);
        out.extend(st.queue.drain(..n));
        drop(st);
        if was_full {
            self.room.notify_waiters();
        }
    }

    /// Closes the inbox and hands back what was still queued (the consumer has stopped: the
    /// caller drops the items, so whoever waits for them learns it now).
    pub(crate) fn close_and_drain(&self) -> Vec<T> {
        let mut st = self.lock();
        st.closed = true;
        let left = st.queue.drain(..).collect();
        drop(st);
        self.room.notify_waiters();
        left
    }

    /// Items queued.
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Refuses further pushes; the consumer drains what is queued, then sees the end.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Defers this inbox's wake-ups on this thread until the guard drops (see the module
    /// docs). Nested guards for the same inbox are fine; a guard for another inbox on the
    /// same thread ends the deferral of the first (its pushes wake at once again).
    pub(crate) fn defer_wakes(&self) -> DeferWakes<'_, T> {
        let previous = DEFERRING.with(|d| d.replace(self.address()));
        DeferWakes {
            inbox: self,
            previous,
            _not_send: PhantomData,
        }
    }
}

/// See [`Inbox::defer_wakes`].
#[must_use = "the deferral ends (and the consumer is woken) when the guard drops"]
pub struct DeferWakes<'a, T> {
    inbox: &'a Inbox<T>,
    previous: usize,
    /// Not `Send`: the guard must not be held across an `.await`.
    _not_send: PhantomData<*const ()>,
}

impl<T> Drop for DeferWakes<'_, T> {
    fn drop(&mut self) {
        DEFERRING.with(|d| d.set(self.previous));
        self.inbox.wake();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn bounded_pushes_are_refused_when_full_and_unbounded_ones_are_not() {
        let inbox = Inbox::new(2);
        inbox.push(1, true).unwrap();
        inbox.push(2, true).unwrap();
        assert_eq!(inbox.push(3, true).unwrap_err(), (3, PushError::Full));
        inbox.push(4, false).unwrap();
        let mut out = Vec::new();
        assert!(inbox.recv_batch(10, &mut out));
        assert_eq!(out, vec![1, 2, 4]);
        inbox.close();
        assert_eq!(inbox.push(5, false).unwrap_err(), (5, PushError::Closed));
        assert!(!inbox.recv_batch(10, &mut out));
    }

    #[test]
    fn room_is_signalled_when_a_full_queue_is_drained_and_on_close() {
        let inbox = Inbox::new(1);
        inbox.push(1, true).unwrap();
        assert!(!inbox.has_room());
        let room = inbox.room().notified();
        tokio::pin!(room);
        room.as_mut().enable();
        let mut out = Vec::new();
        assert!(inbox.recv_batch(8, &mut out));
        assert!(inbox.has_room());
        assert!(futures_ready(room.as_mut()));
        inbox.push(2, true).unwrap();
        let closed = inbox.room().notified();
        tokio::pin!(closed);
        closed.as_mut().enable();
        assert_eq!(inbox.close_and_drain(), vec![2]);
        assert!(futures_ready(closed.as_mut()));
        assert_eq!(inbox.push(3, false).unwrap_err(), (3, PushError::Closed));
    }

    /// Whether a future is ready on its first poll.
    fn futures_ready<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        f.poll(&mut cx).is_ready()
    }

    #[test]
    fn a_closed_inbox_is_drained_first() {
        let inbox = Inbox::new(8);
        inbox.push(1, true).unwrap();
        inbox.close();
        let mut out = Vec::new();
        assert!(inbox.recv_batch(1, &mut out));
        assert_eq!(out, vec![1]);
        assert!(!inbox.recv_batch(1, &mut out));
    }

    /// Waits until the consumer thread is asleep on the inbox.
    fn until_sleeping<T>(inbox: &Inbox<T>) {
        while !inbox.lock().sleeping {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn deferred_pushes_wake_the_consumer_once_when_the_guard_drops() {
        let inbox = Arc::new(Inbox::new(64));
        let consumer = {
            let inbox = Arc::clone(&inbox);
            std::thread::spawn(move || {
                let mut batches = Vec::new();
                let mut out = Vec::new();
                while inbox.recv_batch(64, &mut out) {
                    batches.push(std::mem::take(&mut out));
                }
                batches
            })
        };
        until_sleeping(&inbox);
        {
            let _guard = inbox.defer_wakes();
            for i in 0..5 {
                inbox.push(i, true).unwrap();
            }
            // Nothing woke the consumer yet: it still sleeps, with all five queued.
            std::thread::sleep(Duration::from_millis(20));
            assert!(inbox.lock().sleeping);
            assert_eq!(inbox.len(), 5);
        }
        // The guard's drop woke it: it takes all five in one batch.
        while inbox.len() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        until_sleeping(&inbox);
        // Without a guard every push wakes it.
        inbox.push(9, true).unwrap();
        inbox.close();
        let batches = consumer.join().unwrap();
        assert_eq!(batches, vec![vec![0, 1, 2, 3, 4], vec![9]]);
    }

    #[test]
    fn a_guard_defers_only_its_own_inbox() {
        let a = Arc::new(Inbox::<u32>::new(8));
        let b = Arc::new(Inbox::new(8));
        let consumer = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let mut out = Vec::new();
                b.recv_batch(8, &mut out);
                out
            })
        };
        until_sleeping(&b);
        let _guard = a.defer_wakes();
        b.push(7, true).unwrap();
        // b's consumer is woken at once although a's guard is alive.
        assert_eq!(consumer.join().unwrap(), vec![7]);
    }
}
