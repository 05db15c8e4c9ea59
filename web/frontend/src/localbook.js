// A local order book kept exactly by Binance's documented procedure for diff depth streams:
//
// 1. Subscribe to `<symbol>@depth@100ms` and buffer the diffs.
// 2. Take a snapshot from `GET /api/v3/depth` (after the subscription is confirmed).
// 3. Drop buffered diffs with `u <= lastUpdateId`. If the first one left has
//    `U > lastUpdateId + 1` the snapshot is older than the stream: take another.
// 4. Start from the snapshot; the first diff applied must straddle it
//    (`U <= lastUpdateId + 1 <= u`), and every later one must continue it (`U == previous u + 1`);
//    anything else is a gap and the book is rebuilt from step 2.
// 5. A diff's quantities are absolute; quantity "0" removes the level.
//
// With md-push's `@checksum` extension each diff also carries `cs`, the CRC-32 of the server's
// top 10 levels per side after the diff: the book checks it and asks for a rebuild on a
// mismatch.

import { bookChecksum, CHECKSUM_LEVELS } from './checksum.js';
import { isZero, scaled } from './decimal.js';

/**
 * @typedef {[string, string]} Level  a printed [price, quantity]
 * @typedef {{ U: number, u: number, b: Level[], a: Level[], cs?: number }} DepthUpdate
 * @typedef {{ lastUpdateId: number, bids: Level[], asks: Level[] }} DepthSnapshot
 * @typedef {{ price: string, qty: string, key: bigint }} Entry
 * @typedef {'idle' | 'buffering' | 'synced'} BookStatus
 * @typedef {{ kind: 'ignored' } | { kind: 'buffered' } | { kind: 'applied' }
 *   | { kind: 'resync', reason: string }} DiffOutcome
 * @typedef {{ kind: 'ignored' } | { kind: 'stale' } | { kind: 'synced', applied: number }
 *   | { kind: 'resync', reason: string }} SnapshotOutcome
 */

/** Diffs kept while waiting for a snapshot; older ones are dropped beyond this. */
export const MAX_BUFFERED = 1000;

export class LocalBook {
  constructor(maxBuffered = MAX_BUFFERED) {
    /** @type {BookStatus} */
    this.status = 'idle';
    /** The last event sequence the book reflects (`lastUpdateId`, then each diff's `u`). */
    this.lastUpdateId = 0;
    /** @type {Map<string, Entry>} */
    this.bids = new Map();
    /** @type {Map<string, Entry>} */
    this.asks = new Map();
    /** @type {DepthUpdate[]} */
    this.buffer = [];
    this.maxBuffered = maxBuffered;
    /** Whether the next diff is the first after the snapshot (the straddle rule applies). */
    this.first = false;
    /** @type {{ bids: Level[], asks: Level[] } | null} */
    this.sorted = null;
    this.counters = {
      snapshots: 0,
      applied: 0,
      dropped: 0,
      resyncs: 0,
      checksumsVerified: 0,
      checksumMismatches: 0,
    };
    /** @type {string | null} */
    this.lastResyncReason = null;
  }

  /** Forgets everything and stops listening (no symbol selected, or the socket closed). */
  stop() {
    this.clear();
    this.status = 'idle';
  }

  /** Starts (over): forgets the book and buffers diffs until a snapshot arrives. */
  reset() {
    this.clear();
    this.status = 'buffering';
  }

  /** @private */
  clear() {
    this.bids.clear();
    this.asks.clear();
    this.buffer = [];
    this.lastUpdateId = 0;
    this.first = false;
    this.sorted = null;
  }

  /**
   * One diff from the stream.
   * @param {DepthUpdate} ev
   * @returns {DiffOutcome}
   */
  onDiff(ev) {
    if (this.status === 'idle') return { kind: 'ignored' };
    if (this.status === 'buffering') {
      this.buffer.push(ev);
      if (this.buffer.length > this.maxBuffered) {
        // Bounded: the oldest go. If the snapshot then turns out older than what is left,
        // step 3 notices and another snapshot is taken.
        this.buffer.shift();
        this.counters.dropped++;
      }
      return { kind: 'buffered' };
    }
    return this.apply(ev);
  }

  /**
   * The REST snapshot, taken after the stream was subscribed.
   * @param {DepthSnapshot} snap
   * @returns {SnapshotOutcome}
   */
  onSnapshot(snap) {
    if (this.status !== 'buffering') return { kind: 'ignored' };
    const last = snap.lastUpdateId;
    const pending = this.buffer.filter((ev) => ev.u > last);
    if (pending.length > 0 && pending[0].U > last + 1) {
      // The snapshot is older than the first diff still needed: take another.
      this.buffer = pending;
      return { kind: 'stale' };
    }
    this.bids.clear();
    this.asks.clear();
    for (const [p, q] of snap.bids) set(this.bids, p, q);
    for (const [p, q] of snap.asks) set(this.asks, p, q);
    this.sorted = null;
    this.lastUpdateId = last;
    this.status = 'synced';
    this.first = true;
    this.buffer = [];
    this.counters.snapshots++;
    let applied = 0;
    for (const ev of pending) {
      const r = this.apply(ev);
      if (r.kind === 'resync') return r;
      if (r.kind === 'applied') applied++;
    }
    return { kind: 'synced', applied };
  }

  /**
   * Step 4 and 5 for one diff of a synced book.
   * @private
   * @param {DepthUpdate} ev
   * @returns {DiffOutcome}
   */
  apply(ev) {
    if (ev.u <= this.lastUpdateId) return { kind: 'ignored' };
    const next = this.lastUpdateId + 1;
    const continues = this.first ? ev.U <= next : ev.U === next;
    if (!continues) {
      return this.resync(`gap: U ${ev.U} after update id ${this.lastUpdateId}`);
    }
    for (const [p, q] of ev.b) set(this.bids, p, q);
    for (const [p, q] of ev.a) set(this.asks, p, q);
    this.sorted = null;
    this.lastUpdateId = ev.u;
    this.first = false;
    this.counters.applied++;
    if (typeof ev.cs === 'number') {
      const mine = this.checksum();
      if (mine !== ev.cs) {
        this.counters.checksumMismatches++;
        return this.resync(`checksum ${mine} != ${ev.cs} at u ${ev.u}`);
      }
      this.counters.checksumsVerified++;
    }
    return { kind: 'applied' };
  }

  /**
   * Drops the book and goes back to buffering; the caller takes a new snapshot.
   * @private
   * @param {string} reason
   * @returns {{ kind: 'resync', reason: string }}
   */
  resync(reason) {
    this.counters.resyncs++;
    this.lastResyncReason = reason;
    this.reset();
    return { kind: 'resync', reason };
  }

  /**
   * The best `n` levels of a side: bids highest first, asks lowest first.
   * @param {'bids' | 'asks'} side
   * @param {number} n
   * @returns {Level[]}
   */
  top(side, n) {
    if (this.sorted === null) {
      this.sorted = {
        bids: sortedLevels(this.bids, true),
        asks: sortedLevels(this.asks, false),
      };
    }
    return this.sorted[side].slice(0, n);
  }

  /** The checksum of the book as it stands (see checksum.js). */
  checksum() {
    return bookChecksum(this.top('asks', CHECKSUM_LEVELS), this.top('bids', CHECKSUM_LEVELS));
  }
}

/**
 * @param {Map<string, Entry>} side
 * @param {string} price
 * @param {string} qty
 */
function set(side, price, qty) {
  if (isZero(qty)) side.delete(price);
  else side.set(price, { price, qty, key: scaled(price) });
}

/**
 * @param {Map<string, Entry>} side
 * @param {boolean} descending
 * @returns {Level[]}
 */
function sortedLevels(side, descending) {
  const entries = [...side.values()];
  entries.sort((x, y) => {
    const c = x.key < y.key ? -1 : x.key > y.key ? 1 : 0;
    return descending ? -c : c;
  });
  return entries.map((e) => /** @type {Level} */ ([e.price, e.qty]));
}
