import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CandleSeries, fromRest, fromStream, toBar } from '../src/candles.js';
import { RecentTrades } from '../src/trades.js';

/**
 * @param {number} t
 * @param {number} trades
 * @param {string} [close]
 */
const candle = (t, trades, close = '10.00') => ({
  openTime: t,
  open: '10.00',
  high: '11.00',
  low: '9.00',
  close,
  volume: '1.00',
  trades,
  closed: false,
});

test('trades: merged newest first, once each, bounded', () => {
  const t = new RecentTrades(3);
  const tr = (/** @type {number} */ id) => ({ id, price: '1', qty: '1', time: id, buyerMaker: id % 2 === 0 });
  assert.ok(t.add([tr(5), tr(3)]));
  assert.ok(!t.add([tr(5)]));
  assert.ok(t.add([tr(4), tr(4), tr(6)]));
  assert.deepEqual(t.list.map((x) => x.id), [6, 5, 4]);
  // Older than everything kept: no change.
  assert.ok(!t.add([tr(1)]));
  assert.deepEqual(t.list.map((x) => x.id), [6, 5, 4]);
  assert.equal(t.lastId(), 6);
  t.clear();
  assert.equal(t.lastId(), -1);
});

test('candles: live updates merge with the history by open time and trade count', () => {
  const s = new CandleSeries(3);
  // Before the history: kept aside, replayed after it.
  assert.equal(s.live(candle(180, 4)).kind, 'ignored');
  s.setHistory([candle(60, 1), candle(120, 2), candle(180, 3)]);
  assert.equal(s.last()?.trades, 4);
  // Older than the history's current candle (fewer trades), or an older interval: ignored.
  assert.equal(s.live(candle(180, 2)).kind, 'ignored');
  assert.equal(s.live(candle(120, 9)).kind, 'ignored');
  // Intervals without trades are skipped, as REST omits them.
  assert.equal(s.live(candle(240, 0)).kind, 'ignored');
  assert.equal(s.live(candle(180, 5, '10.50')).kind, 'updated');
  assert.equal(s.last()?.close, '10.50');
  assert.equal(s.live(candle(240, 1)).kind, 'appended');
  assert.deepEqual(s.list.map((c) => c.openTime), [120, 180, 240]);
  s.clear();
  assert.equal(s.loaded, false);
  assert.equal(s.list.length, 0);
});

test('candle rows and events convert; the chart gets seconds and floats', () => {
  const row = [1700000040000, '30000.10000000', '30010.00000000', '29990.00000000', '30005.50000000', '1.25000000', 1700000099999, '37500.00000000', 7, '0.5', '1', '0'];
  const c = fromRest(row, 1700000100000);
  assert.deepEqual(c, { openTime: 1700000040000, open: '30000.10000000', high: '30010.00000000', low: '29990.00000000', close: '30005.50000000', volume: '1.25000000', trades: 7, closed: true });
  assert.deepEqual(toBar(c), { time: 1700000040, open: 30000.1, high: 30010, low: 29990, close: 30005.5 });
  const k = { t: 1, o: '1', h: '2', l: '0.5', c: '1.5', v: '3', n: 2, x: false };
  assert.deepEqual(fromStream(k), { openTime: 1, open: '1', high: '2', low: '0.5', close: '1.5', volume: '3', trades: 2, closed: false });
});
