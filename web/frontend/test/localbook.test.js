// The local-book procedure against a simulated md-push: a server book changed by numbered
// events (other symbols' events advance the global sequence too), cut into diffs that tile
// the sequence line (U = previous u + 1) and carry the checksum of the server's top levels.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bookChecksum } from '../src/checksum.js';
import { LocalBook } from '../src/localbook.js';

/** @param {number} seed */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {number} ticks price in cents */
const price = (ticks) => `${Math.floor(ticks / 100)}.${String(ticks % 100).padStart(2, '0')}000000`;
/** @param {number} lots quantity in 0.001 */
const qty = (lots) => `${Math.floor(lots / 1000)}.${String(lots % 1000).padStart(3, '0')}00000`;

class Server {
  /** @param {() => number} r */
  constructor(r) {
    this.r = r;
    this.seq = 0;
    /** @type {Map<number, number>} */
    this.bids = new Map();
    /** @type {Map<number, number>} */
    this.asks = new Map();
    /** @type {Map<string, string>} */
    this.accBids = new Map();
    /** @type {Map<string, string>} */
    this.accAsks = new Map();
    this.lastU = 0;
  }

  /** One command: a few level changes of this symbol, or events of another symbol. */
  step() {
    const n = 1 + Math.floor(this.r() * 3);
    for (let i = 0; i < n; i++) {
      this.seq++;
      if (this.r() < 0.3) continue; // another symbol's event
      const bid = this.r() < 0.5;
      // Bids 9900..10000, asks 10001..10100 (cents): never crossed.
      const p = bid ? 9900 + Math.floor(this.r() * 101) : 10001 + Math.floor(this.r() * 100);
      const q = this.r() < 0.3 ? 0 : 1 + Math.floor(this.r() * 5000);
      const side = bid ? this.bids : this.asks;
      if (q === 0) side.delete(p);
      else side.set(p, q);
      (bid ? this.accBids : this.accAsks).set(price(p), qty(q));
    }
  }

  /** @param {boolean} desc @param {Map<number, number>} side @returns {[string, string][]} */
  levels(side, desc) {
    return [...side.entries()].sort((a, b) => (desc ? b[0] - a[0] : a[0] - b[0])).map(([p, q]) => [price(p), qty(q)]);
  }

  /** The cadence: a diff of what changed since the last one, or null. */
  cut() {
    if (this.accBids.size === 0 && this.accAsks.size === 0) return null;
    const d = {
      U: this.lastU + 1,
      u: this.seq,
      b: [...this.accBids.entries()],
      a: [...this.accAsks.entries()],
      cs: bookChecksum(this.levels(this.asks, false), this.levels(this.bids, true)),
    };
    this.accBids.clear();
    this.accAsks.clear();
    this.lastU = this.seq;
    return d;
  }

  snapshot() {
    return { lastUpdateId: this.seq, bids: this.levels(this.bids, true), asks: this.levels(this.asks, false) };
  }
}

/**
 * @param {LocalBook} book
 * @param {Server} server
 */
function assertSame(book, server, what = '') {
  assert.equal(book.status, 'synced', what);
  assert.deepEqual(book.top('bids', 1e9), server.levels(server.bids, true), `bids ${what}`);
  assert.deepEqual(book.top('asks', 1e9), server.levels(server.asks, false), `asks ${what}`);
}

/**
 * A session: the server runs, the client subscribes at some point, takes its snapshot a few
 * cadences later (diffs buffered meanwhile), then follows. Returns the client's book.
 * @param {number} seed
 * @param {{ dropOne?: boolean, corruptOne?: boolean }} [faults]
 */
function session(seed, faults = {}) {
  const r = rng(seed);
  const server = new Server(r);
  const book = new LocalBook();
  const warmup = Math.floor(r() * 50);
  for (let i = 0; i < warmup; i++) {
    server.step();
    if (r() < 0.5) server.cut();
  }
  book.reset(); // subscribed
  /** @type {any[]} */
  const wire = [];
  let snapshotAt = 1 + Math.floor(r() * 8); // cadences until the snapshot answer
  /** @type {any} */
  let pendingSnapshot = null;
  let faulted = false;
  let resyncs = 0;
  for (let cadence = 0; cadence < 200; cadence++) {
    const steps = Math.floor(r() * 4);
    for (let i = 0; i < steps; i++) server.step();
    if (snapshotAt === 0 && pendingSnapshot === null) pendingSnapshot = server.snapshot();
    snapshotAt--;
    const d = server.cut();
    if (d !== null) wire.push(d);
    // The snapshot answer may arrive before or after diffs cut after it was taken.
    if (pendingSnapshot !== null && (r() < 0.5 || wire.length === 0)) {
      const out = book.onSnapshot(pendingSnapshot);
      assert.notEqual(out.kind, 'ignored', `seed ${seed}`);
      if (out.kind === 'stale') snapshotAt = 0;
      pendingSnapshot = null;
    }
    while (wire.length > 0) {
      const ev = wire.shift();
      // Faults hit only diffs the book still needs, and not among the last cadences (so
      // that a later diff reveals them).
      if (book.status === 'synced' && !faulted && ev.u > book.lastUpdateId && cadence < 150) {
        if (faults.dropOne && r() < 0.1) {
          faulted = true;
          continue;
        }
        if (faults.corruptOne && r() < 0.1 && ev.a.length > 0) {
          faulted = true;
          ev.a[0] = [ev.a[0][0], ev.a[0][1] === '1.00000000' ? '2.00000000' : '1.00000000'];
        }
      }
      const out = book.onDiff(ev);
      if (out.kind === 'resync') {
        resyncs++;
        snapshotAt = Math.floor(r() * 3);
      }
    }
  }
  // Let it settle: no faults, deliver a last snapshot if one is owed.
  for (let i = 0; i < 20 && book.status !== 'synced'; i++) {
    if (pendingSnapshot === null) pendingSnapshot = server.snapshot();
    book.onSnapshot(pendingSnapshot);
    pendingSnapshot = null;
  }
  return { book, server, resyncs, faulted };
}

test('the book ends equal to the server book, checksums verified (300 seeded sessions)', () => {
  let verified = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const { book, server, resyncs } = session(seed);
    assertSame(book, server, `seed ${seed}`);
    assert.equal(resyncs, 0, `seed ${seed}: no fault, no resync`);
    assert.equal(book.counters.checksumMismatches, 0);
    assert.equal(book.lastUpdateId >= server.lastU, true);
    verified += book.counters.checksumsVerified;
  }
  assert.ok(verified > 10_000, `checksums verified: ${verified}`);
});

test('a lost diff is a gap: the book resyncs and ends equal', () => {
  let faults = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const { book, server, resyncs, faulted } = session(seed, { dropOne: true });
    if (faulted) {
      faults++;
      assert.ok(resyncs >= 1, `seed ${seed}: the gap went unnoticed`);
      assert.match(book.lastResyncReason ?? '', /^gap: U \d+ after update id \d+$/);
    }
    assertSame(book, server, `seed ${seed}`);
  }
  assert.ok(faults > 100, `faults injected: ${faults}`);
});

test('a wrong level is caught by the checksum: the book resyncs and ends equal', () => {
  let faults = 0;
  let caught = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const { book, server, resyncs, faulted } = session(seed, { corruptOne: true });
    if (faulted) {
      faults++;
      if (book.counters.checksumMismatches > 0) caught++;
      // A corrupted level beyond the top 10 is invisible to the checksum until it moves up.
      if (book.counters.checksumMismatches > 0) assert.ok(resyncs >= 1);
    }
    if (book.counters.checksumMismatches === 0 && faulted) {
      // Only possible when the corrupted level never reached the top 10 and was later
      // overwritten or stayed outside; the top 10 must still be right.
      assert.deepEqual(book.top('asks', 10), server.levels(server.asks, false).slice(0, 10));
    } else {
      assertSame(book, server, `seed ${seed}`);
    }
  }
  assert.ok(faults > 100, `faults injected: ${faults}`);
  // Most corrupted levels are near the top (the simulated book is 100 levels a side).
  assert.ok(caught > faults / 4, `caught ${caught} of ${faults}`);
});

/** @param {number} U @param {number} u @param {[string, string][]} [b] @param {[string, string][]} [a] */
const diff = (U, u, b = [], a = []) => ({ U, u, b, a });

test('the procedure step by step', () => {
  const cases = [
    {
      what: 'diffs the snapshot covers are dropped; the straddling one applies',
      buffered: [diff(1, 5, [['1.00', '1']]), diff(6, 9, [['1.00', '2']]), diff(10, 12, [['2.00', '3']])],
      snapshot: { lastUpdateId: 10, bids: [['1.00', '2']], asks: [] },
      outcome: 'synced',
      bids: [['2.00', '3'], ['1.00', '2']],
      last: 12,
    },
    {
      what: 'a snapshot older than the first diff still needed is stale',
      buffered: [diff(8, 9), diff(10, 12)],
      snapshot: { lastUpdateId: 5, bids: [], asks: [] },
      outcome: 'stale',
    },
    {
      what: 'a snapshot exactly before the first diff is fine',
      buffered: [diff(6, 9, [['1.00', '4']])],
      snapshot: { lastUpdateId: 5, bids: [], asks: [] },
      outcome: 'synced',
      bids: [['1.00', '4']],
      last: 9,
    },
    {
      what: 'a snapshot newer than every diff: nothing to apply yet',
      buffered: [diff(1, 3)],
      snapshot: { lastUpdateId: 7, bids: [['3.00', '1']], asks: [['4.00', '1']] },
      outcome: 'synced',
      bids: [['3.00', '1']],
      last: 7,
    },
    {
      what: 'a gap inside the buffer is a resync',
      buffered: [diff(6, 9), diff(11, 12)],
      snapshot: { lastUpdateId: 7, bids: [], asks: [] },
      outcome: 'resync',
    },
    {
      what: 'quantity zero removes a level',
      buffered: [diff(3, 4, [['1.00', '0.00000000']], [['5.00', '0']])],
      snapshot: { lastUpdateId: 3, bids: [['1.00', '1'], ['0.50', '1']], asks: [['5.00', '1']] },
      outcome: 'synced',
      bids: [['0.50', '1']],
      last: 4,
    },
  ];
  for (const c of cases) {
    const book = new LocalBook();
    assert.deepEqual(book.onDiff(diff(1, 2)), { kind: 'ignored' }, 'idle: not subscribed');
    book.reset();
    for (const d of c.buffered) assert.deepEqual(book.onDiff(d), { kind: 'buffered' });
    const out = book.onSnapshot(/** @type {any} */ (c.snapshot));
    assert.equal(out.kind, c.outcome, c.what);
    if (c.outcome === 'synced') {
      assert.deepEqual(book.top('bids', 100), c.bids, c.what);
      assert.equal(book.lastUpdateId, c.last, c.what);
    }
  }
});

test('after the first diff, each must continue the last exactly', () => {
  const book = new LocalBook();
  book.reset();
  book.onSnapshot({ lastUpdateId: 10, bids: [], asks: [] });
  assert.equal(book.onDiff(diff(9, 12)).kind, 'applied'); // straddles
  assert.equal(book.onDiff(diff(5, 12)).kind, 'ignored'); // nothing new
  assert.equal(book.onDiff(diff(13, 15)).kind, 'applied');
  // U <= u_prev + 1 is not enough after the first: an overlap means the stream is confused.
  const out = book.onDiff(diff(14, 18));
  assert.equal(out.kind, 'resync');
  assert.equal(book.status, 'buffering');
  assert.equal(book.counters.resyncs, 1);
  assert.equal(book.top('bids', 10).length, 0, 'a resyncing book shows nothing stale');
});

test('the buffer is bounded; a snapshot after an overflow is stale if it falls short', () => {
  const book = new LocalBook(4);
  book.reset();
  for (let i = 0; i < 10; i++) book.onDiff(diff(i + 1, i + 1));
  assert.equal(book.buffer.length, 4);
  assert.equal(book.counters.dropped, 6);
  assert.equal(book.onSnapshot({ lastUpdateId: 3, bids: [], asks: [] }).kind, 'stale');
  assert.equal(book.onSnapshot({ lastUpdateId: 6, bids: [], asks: [] }).kind, 'synced');
  assert.equal(book.lastUpdateId, 10);
});

test('levels sort by value, not by text', () => {
  const book = new LocalBook();
  book.reset();
  book.onSnapshot({
    lastUpdateId: 1,
    bids: [['9.50', '1'], ['10.00', '1'], ['100.00', '1']],
    asks: [['1000.00', '1'], ['200.00', '1'], ['99.99', '1']],
  });
  assert.deepEqual(book.top('bids', 3).map((l) => l[0]), ['100.00', '10.00', '9.50']);
  assert.deepEqual(book.top('asks', 2).map((l) => l[0]), ['99.99', '200.00']);
});
