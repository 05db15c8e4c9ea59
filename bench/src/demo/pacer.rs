//! Sub-millisecond pacing of the traders' send schedules.
//!
//! tokio's timer has a resolution of one millisecond (a deadline is rounded up to the next
//! tick), so a trader sleeping until its next request's due time woke up to a millisecond
//! late: a send lag of ~0.75 ms at the median at 40k requests/s. Open loop, that lag rightly
//! counts in the acknowledgement latency, but it is the generator's, not the exchange's.
//!
//! The pacer is one task that ticks every [`DemoConfig::pace`](super::DemoConfig::pace) on a
//! `timerfd` (a kernel high-resolution timer the runtime's reactor waits on like any socket)
//! and wakes each trader whose next request is due, so a request leaves at most about one
//! tick after its due time. Requests leave on ticks only (a trader polled between ticks, say
//! for a response, does not send early), so the tick alone sets the trade between
//! punctuality and batching: every trader woken sends what is due in one write, and a finer
//! tick means more, smaller writes for the client and the server alike. A trader
//! waits through its own [`Pace`]: one slot, written only by that trader, scanned by the
//! ticker. Should the timer fail, the ticker falls back to tokio's millisecond timer (and
//! says so once), so traders are never stranded.

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

/// A slot's `due` when its trader is not waiting.
const IDLE: u64 = u64::MAX;

struct Slot {
    /// When the waiting trader is due, in nanoseconds since [`Shared::base`]; [`IDLE`] if it
    /// is not waiting.
    due: AtomicU64,
    waker: AtomicWaker,
}

struct Shared {
    base: Instant,
    /// When the last tick happened, in nanoseconds since `base`: what is due by then may go.
    ticked: AtomicU64,
    slots: Box<[Slot]>,
}

impl Shared {
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(IDLE - 1)
    }

    /// A tick: wakes every trader due by now.
    fn wake_due(&self) {
        let now = self.nanos(Instant::now());
        // SeqCst here and in `Until::poll`: each side stores, then loads what the other
        // stores, and one of them must see the other's store (or a wake is lost).
        self.ticked.store(now, Ordering::SeqCst);
        for slot in self.slots.iter() {
            if slot.due.load(Ordering::SeqCst) <= now {
                slot.due.store(IDLE, Ordering::Relaxed);
                slot.waker.wake();
            }
        }
    }
}

/// The ticker and the traders' slots. Dropping it stops the ticker.
pub(super) struct Pacer {
    shared: Arc<Shared>,
    ticker: JoinHandle<()>,
}

impl Pacer {
    /// Starts the ticker (on the current tokio runtime), ticking every `tick` (at least a
    /// microsecond, under a second), for `traders` slots.
    pub(super) fn start(traders: usize, tick: Duration) -> Self {
        let shared = Arc::new(Shared {
            base: Instant::now(),
            ticked: AtomicU64::new(0),
            slots: (0..traders)
                .map(|_| Slot {
                    due: AtomicU64::new(IDLE),
                    waker: AtomicWaker::new(),
                })
                .collect(),
        });
        let tick = tick.clamp(Duration::from_micros(1), Duration::from_micros(999_999));
        let ticker = tokio::spawn(run_ticker(Arc::clone(&shared), tick));
        Self { shared, ticker }
    }

    /// Trader `index`'s handle (each index to one trader only).
    pub(super) fn pace(&self, index: usize) -> Pace {
        Pace {
            shared: Arc::clone(&self.shared),
            index,
        }
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

/// One trader's way to wait for its next due time.
pub(super) struct Pace {
    shared: Arc<Shared>,
    index: usize,
}

impl Pace {
    /// Completes on the first tick at or after `due` (at once if that tick has happened).
    pub(super) fn until(&self, due: Instant) -> Until<'_> {
        Until { pace: self, due }
    }
}

/// The future of [`Pace::until`].
pub(super) struct Until<'a> {
    pace: &'a Pace,
    due: Instant,
}

impl Future for Until<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = &self.pace.shared;
        let due = shared.nanos(self.due);
        if shared.ticked.load(Ordering::Acquire) >= due {
            return Poll::Ready(());
        }
        let Some(slot) = shared.slots.get(self.pace.index) else {
            // Not a slot of this pacer: a caller's mistake, but never a hang.
            return Poll::Ready(());
        };
        slot.waker.register(cx.waker());
        slot.due.store(due, Ordering::SeqCst);
        // A tick between the first check and the store may not have seen this slot.
        if shared.ticked.load(Ordering::SeqCst) >= due {
            slot.due.store(IDLE, Ordering::Relaxed);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// A periodic `timerfd` ticking every `period` (under a second), registered with the runtime's reactor.
fn periodic_timer(period: Duration) -> io::Result<AsyncFd<OwnedFd>> {
    use rustix::time::{
        timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
        TimerfdTimerFlags, Timespec,
    };
    let fd = timerfd_create(
        TimerfdClockId::Monotonic,
        TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
    )?;
    let every = Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(period.subsec_nanos()),
    };
    timerfd_settime(
        &fd,
        TimerfdTimerFlags::empty(),
        &Itimerspec {
            it_interval: every,
            it_value: every,
        },
    )?;
    // SAFETY: an `OwnedFd` is an open descriptor that only its owner closes, and `as_raw_fd`
    // returns that same descriptor for as long as the `AsyncFd` owns it.
    Ok(unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?)
}

/// Waits for the next expiry of `timer` (one or more ticks).
async fn next_tick(timer: &AsyncFd<OwnedFd>) -> io::Result<()> {
    loop {
        let mut ready = timer.readable().await?;
        let mut expirations = [0u8; 8];
        match ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut expirations)?)) {
            Ok(result) => return result.map(|_| ()),
            // Not expired after all (readiness cleared): wait again.
            Err(_would_block) => continue,
        }
    }
}

async fn run_ticker(shared: Arc<Shared>, tick: Duration) {
    match periodic_timer(tick) {
        Ok(timer) => loop {
            if let Err(error) = next_tick(&timer).await {
                tracing::warn!(%error, "the pacer's timer failed; pacing at tokio's millisecond resolution");
                break;
            }
            shared.wake_due();
        },
        Err(error) => {
            tracing::warn!(%error, "no timerfd for the pacer; pacing at tokio's millisecond resolution");
        }
    }
    let mut fallback = tokio::time::interval(Duration::from_millis(1));
    fallback.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        fallback.tick().await;
        shared.wake_due();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_micros(100);

    #[tokio::test]
    async fn the_timer_ticks_periodically() {
        // Taken before the timer is armed: its tenth expiry is at least ten ticks later.
        let start = Instant::now();
        let timer = periodic_timer(TICK).expect("timerfd");
        for _ in 0..10 {
            next_tick(&timer).await.expect("tick");
        }
        assert!(start.elapsed() >= 10 * TICK);
    }

    #[tokio::test]
    async fn a_wait_never_ends_before_its_due_time() {
        let pacer = Pacer::start(2, TICK);
        let pace = pacer.pace(1);
        for i in 0..50 {
            let due = Instant::now() + Duration::from_micros(50 * (i % 7));
            pace.until(due).await;
            assert!(Instant::now() >= due, "woke before its due time");
        }
    }

    #[tokio::test]
    async fn a_passed_due_time_completes_on_the_next_tick_and_a_foreign_index_never_hangs() {
        let pacer = Pacer::start(1, TICK);
        pacer.pace(0).until(Instant::now()).await;
        pacer
            .pace(0)
            .until(Instant::now() - Duration::from_millis(1))
            .await;
        pacer
            .pace(5)
            .until(Instant::now() + Duration::from_secs(3600))
            .await;
    }

    #[tokio::test]
    async fn each_trader_is_woken_for_its_own_due_time() {
        let pacer = Pacer::start(3, TICK);
        let start = Instant::now();
        let waits = (0..3u64).map(|i| {
            let pace = pacer.pace(usize::try_from(i).unwrap_or(0));
            async move {
                let due = start + Duration::from_millis(1 + 2 * i);
                pace.until(due).await;
                Instant::now() >= due
            }
        });
        let all = futures_util::future::join_all(waits).await;
        assert_eq!(all, vec![true; 3]);
    }
}
