import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_GAP_MS, Subscriptions, parseStream, streamsFor } from '../src/subscriptions.js';

test('stream names for a selection, and parsed back', () => {
  assert.deepEqual(streamsFor('BTCUSDT', '5m'), [
    'btcusdt@depth@100ms@checksum',
    'btcusdt@trade',
    'btcusdt@ticker',
    'btcusdt@kline_5m',
  ]);
  assert.deepEqual(parseStream('btcusdt@depth@100ms@checksum'), { symbol: 'BTCUSDT', kind: 'depth' });
  assert.deepEqual(parseStream('ethbtc@kline_1h'), { symbol: 'ETHBTC', kind: 'kline', interval: '1h' });
  assert.deepEqual(parseStream('ethbtc@trade'), { symbol: 'ETHBTC', kind: 'trade' });
  assert.equal(parseStream('ethbtc@bookTicker'), null);
  assert.equal(parseStream('@trade'), null);
});

test('a switch is one UNSUBSCRIBE and one SUBSCRIBE; answers confirm the new streams', () => {
  const s = new Subscriptions();
  s.want(streamsFor('BTCUSDT', '1m'));
  assert.deepEqual(s.opened(), streamsFor('BTCUSDT', '1m'));
  assert.deepEqual(s.plan(0), { messages: [], waitMs: 0 });
  s.want(streamsFor('ETHUSDT', '1m'));
  const { messages } = s.plan(1000);
  assert.deepEqual(messages, [
    { method: 'UNSUBSCRIBE', params: streamsFor('BTCUSDT', '1m'), id: 1 },
    { method: 'SUBSCRIBE', params: streamsFor('ETHUSDT', '1m'), id: 2 },
  ]);
  assert.deepEqual(s.answered(1), []);
  assert.deepEqual(s.answered(2), streamsFor('ETHUSDT', '1m'));
  assert.deepEqual(s.answered(2), []);
  // An interval switch moves only the kline stream.
  s.want(streamsFor('ETHUSDT', '4h'));
  assert.deepEqual(s.plan(5000).messages, [
    { method: 'UNSUBSCRIBE', params: ['ethusdt@kline_1m'], id: 3 },
    { method: 'SUBSCRIBE', params: ['ethusdt@kline_4h'], id: 4 },
  ]);
});

test('rapid changes are coalesced: never more than two messages per gap (server allows 5/s)', () => {
  const s = new Subscriptions();
  s.want(streamsFor('BTCUSDT', '1m'));
  s.opened();
  const symbols = ['ETHUSDT', 'ETHBTC', 'BTCUSDT'];
  const intervals = ['5m', '15m', '1h', '1d'];
  /** @type {number[]} */
  const sentAt = [];
  let now = 10_000;
  let due = 0;
  for (let i = 0; i < 200; i++) {
    now += 37; // a click every 37 ms
    s.want(streamsFor(symbols[i % 3], intervals[i % 4]));
    if (now >= due) {
      const p = s.plan(now);
      for (const _ of p.messages) sentAt.push(now);
      due = now + p.waitMs;
    }
  }
  // Settle.
  now += MIN_GAP_MS;
  for (const _ of s.plan(now).messages) sentAt.push(now);
  assert.deepEqual([...s.active].sort(), [...s.wanted].sort());
  for (let i = 0; i < sentAt.length; i++) {
    const inWindow = sentAt.filter((t) => t >= sentAt[i] && t < sentAt[i] + 1000).length;
    assert.ok(inWindow <= 4, `${inWindow} messages in a second from ${sentAt[i]}`);
  }
});

test('a closed connection forgets what it carried', () => {
  const s = new Subscriptions();
  s.want(['a@trade']);
  s.opened();
  s.want(['b@trade']);
  s.plan(0);
  s.closed();
  assert.equal(s.active.size, 0);
  assert.deepEqual(s.answered(2), []);
  assert.deepEqual(s.opened(), ['b@trade']);
});

test('away and back within one window: nothing is sent, the streams are settled', () => {
  const s = new Subscriptions();
  s.want(streamsFor('BTCUSDT', '1m'));
  s.opened();
  s.want(streamsFor('ETHUSDT', '1m'));
  const first = s.plan(0).messages;
  assert.equal(first.length, 2);
  // Waiting for the SUBSCRIBE answer: not settled.
  assert.deepEqual(s.settled(streamsFor('ETHUSDT', '1m')), []);
  assert.deepEqual(s.answered(first[1].id), streamsFor('ETHUSDT', '1m'));
  assert.deepEqual(s.settled(streamsFor('ETHUSDT', '1m')), streamsFor('ETHUSDT', '1m'));
  // Within the gap: ETHBTC, then back to ETHUSDT before anything went out.
  s.want(streamsFor('ETHBTC', '1m'));
  assert.ok(s.plan(100).waitMs > 0);
  s.want(streamsFor('ETHUSDT', '1m'));
  assert.deepEqual(s.plan(1000), { messages: [], waitMs: 0 });
  assert.deepEqual(s.settled(streamsFor('ETHUSDT', '1m')), streamsFor('ETHUSDT', '1m'));
  assert.deepEqual(s.settled(streamsFor('ETHBTC', '1m')), []);
});
