//! The feed hands out every event exactly once, in order, whether it comes from the journal
//! (catching up), the broadcast (live) or the journal again after the broadcast lagged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use md_push::feed::Feed;
use std::time::Duration;

async fn read_all(feed: &mut Feed, through: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.last().copied().unwrap_or(0) < through {
        let batch = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .expect("the feed stalled")
            .unwrap()
            .expect("the feed ended early");
        let events = batch.events();
        assert!(!events.is_empty());
        // One command per batch.
        assert!(events.iter().all(|e| e.cmd_seq == events[0].cmd_seq));
        seqs.extend(events.iter().map(|e| e.seq));
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagged_broadcast_is_filled_from_the_journal() {
    // A broadcast ring of one command. The feed first catches up from the journal; then a
    // second session runs while nobody reads the feed, so its broadcast receiver is far
    // behind when reading resumes.
    let x = Exchange::node_with(1).await;
    let live = x.handle.subscribe();
    let mut flow = Flow::new(3);
    x.run_flow(&mut flow, 1500).await;
    let mut feed = Feed::new(live, x.handle.events_journal().clone(), 1);
    let first = x.last_event_seq().await;
    let mut seqs = read_all(&mut feed, first).await;
    let more = tokio::spawn(async move {
        let mut flow = Flow::new(4);
        for _ in 0..5 {
            x.run_flow(&mut flow, 300).await;
        }
        x
    });
    let x = more.await.unwrap();
    let last = x.last_event_seq().await;
    seqs.extend(read_all(&mut feed, last).await);
    let want: Vec<u64> = (1..=last).collect();
    assert_eq!(seqs, want, "every event once, in order");
    assert!(
        feed.gaps() >= 1,
        "the broadcast skipped events: {}",
        feed.gaps()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_start_from_a_later_event() {
    let x = Exchange::node_only().await;
    let mut flow = Flow::new(8);
    x.run_flow(&mut flow, 500).await;
    let mid = x.last_event_seq().await;
    let mut feed = Feed::new(
        x.handle.subscribe(),
        x.handle.events_journal().clone(),
        mid / 2,
    );
    x.run_flow(&mut flow, 500).await;
    let last = x.last_event_seq().await;
    let seqs = read_all(&mut feed, last).await;
    let want: Vec<u64> = (mid / 2..=last).collect();
    assert_eq!(seqs, want);
}
