// End-to-end test of the market page in headless Chromium, driven by playwright-core.
//
//   node e2e/market_page.mjs <page url> <output dir>
//
// Run by exchange/tests/web_page.rs, which starts `exchange demo` (a node with simulated
// traders) and owns its process. The two talk over stdio: this script prints `STOP` and waits
// for the line `stopped` (the node was killed), then prints `START` and waits for `started`
// (the node runs again on the same data directory and port). Progress lines start with
// `e2e:`; screenshots are announced as `SCREENSHOT <path>`. Exit status 0 means every check
// passed.
//
// What it checks, through the page's DOM and its read-only debug hook
// (`window.__marketPage.state()`, see src/main.js):
// 1. the page loads and goes live: both sides of the ladder, trades, a candle, the ticker;
// 2. they change: the book's update id and ladder rows, new trades, the current candle;
// 3. the interval switch (5m, 1h, back to 1m) and the symbol switch (ETHUSDT and back) work,
//    cross-checked with the REST API;
// 4. the node is killed: the page shows `reconnecting`; the node restarts: the page reconnects,
//    takes a new snapshot and follows again;
// 5. the book is right all along: every diff carries md-push's checksum of the server's top
//    10 levels per side, which the page compares with its own book; the test requires
//    hundreds of verified diffs (also after the reconnect) and no mismatch or gap. The top 15
//    levels are also compared exactly with GET /api/v3/depth whenever the page's update id
//    equals the snapshot's (reported, opportunistic: with traders running they rarely meet);
// 6. no uncaught page error, no console error (other than the refused connections while the
//    node is down), no CSP violation.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { fixed, grouped } from '../src/decimal.js';

const [pageUrl, outDir] = process.argv.slice(2);
if (!pageUrl || !outDir) {
  console.error('usage: node e2e/market_page.mjs <page url> <output dir>');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const origin = new URL(pageUrl).origin;

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
/** @param {string} want */
async function expectLine(want) {
  const { value, done } = await stdin.next();
  if (done || value.trim() !== want) throw new Error(`expected "${want}" from the driver, got ${done ? 'EOF' : JSON.stringify(value)}`);
}

const started = Date.now();
/** @param {...unknown} a */
function log(...a) {
  console.log(`e2e: [${((Date.now() - started) / 1000).toFixed(1)} s]`, ...a);
}

/** @param {string} path */
async function rest(path) {
  const r = await fetch(new URL(path, origin));
  assert.ok(r.ok, `GET ${path}: ${r.status}`);
  return r.json();
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 860 } });
// The driver stops a script that outlives its test with SIGTERM: close the browser, then exit.
process.on('SIGTERM', () => {
  browser.close().finally(() => process.exit(143));
});

/** @type {string[]} */
const problems = [];
let nodeDown = false;
page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
page.on('console', (m) => {
  const text = m.text();
  if (m.type() === 'error') {
    const refused = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to .* failed|Failed to fetch/;
    if (nodeDown && refused.test(text)) return;
    problems.push(`console error: ${text}`);
  } else if (m.type() === 'warning' && !nodeDown) {
    problems.push(`console warning: ${text}`);
  }
});

/** @returns {Promise<any>} */
const state = () => page.evaluate(() => /** @type {any} */ (window).__marketPage.state());

const dom = () =>
  page.evaluate(() => {
    const text = (/** @type {string} */ id) => document.getElementById(id)?.textContent ?? '';
    const rows = (/** @type {string} */ sel) =>
      [...document.querySelectorAll(sel)].map((r) => [...r.querySelectorAll('span:not(.bar)')].map((s) => s.textContent));
    return {
      asks: rows('#asks .row:not(.empty)'),
      bids: rows('#bids .row:not(.empty)'),
      trades: [...document.querySelectorAll('#trades .row')].map((r) => /** @type {HTMLElement} */ (r).dataset.id),
      ticker: ['t-last', 't-change', 't-high', 't-low', 't-vol', 't-qvol'].map(text),
      volumeLabel: text('t-vol-label'),
      conn: document.getElementById('conn')?.dataset.state,
      connText: text('conn-text'),
      canvases: document.querySelectorAll('#chart canvas').length,
      candleMeta: text('candle-meta'),
      interval: /** @type {HTMLElement | null} */ (document.querySelector('.interval.active'))?.dataset.interval,
      symbol: /** @type {HTMLSelectElement} */ (document.getElementById('symbol')).value,
      title: document.title,
      hash: location.hash,
    };
  });

/** @param {any} s */
function summary(s) {
  if (!s) return s;
  const { bids, asks, ...book } = s.book;
  return { ...s, book: { ...book, bids: bids.length, asks: asks.length }, trades: s.trades.length };
}

/**
 * Polls the page's state until `pred` holds.
 * @param {string} what
 * @param {(s: any) => boolean | Promise<boolean>} pred
 * @param {number} timeoutMs
 */
async function until(what, pred, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let s;
  for (;;) {
    s = await state();
    if (await pred(s)) return s;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; state: ${JSON.stringify(summary(s))}`);
    }
    await page.waitForTimeout(100);
  }
}

/**
 * Polls the DOM until `pred` holds.
 * @param {string} what
 * @param {(d: Awaited<ReturnType<typeof dom>>) => boolean} pred
 * @param {number} timeoutMs
 */
async function untilDom(what, pred, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await dom();
    if (pred(d)) return d;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; DOM: ${JSON.stringify(d)}`);
    await page.waitForTimeout(100);
  }
}

/** @param {any} s */
const ready = (s) =>
  s.connection.state === 'live' &&
  s.book.status === 'synced' &&
  s.book.bids.length > 0 &&
  s.book.asks.length > 0 &&
  s.trades.length > 0 &&
  s.candles.count > 0 &&
  s.ticker !== null;

/**
 * The page's trades are all among the symbol's recent trades on the server.
 * @param {string} symbol
 * @param {any} s
 */
async function assertTradesOf(symbol, s) {
  const ids = new Set((await rest(`/api/v3/trades?symbol=${symbol}&limit=1000`)).map((/** @type {any} */ t) => t.id));
  const mine = s.trades.map((/** @type {any} */ t) => t.id);
  assert.ok(mine.length > 0 && mine.every((/** @type {number} */ id) => ids.has(id)), `page trades ${mine.slice(0, 5)} are not ${symbol}'s`);
  return mine;
}

/** @param {string} file */
async function screenshot(file) {
  const path = join(outDir, file);
  await page.screenshot({ path });
  console.log(`SCREENSHOT ${path}`);
}

/**
 * Polls until the ladder's rows print the book's levels (all shown levels, in order).
 * @param {number} timeoutMs
 */
async function untilAgree(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [s, d] = await Promise.all([state(), dom()]);
    const bids = s.book.bids.map(printed);
    const asks = s.book.asks.map(printed).reverse();
    const shown = (/** @type {string[][]} */ rows) => rows.map((r) => [r[0], r[1]]);
    if (JSON.stringify(shown(d.bids)) === JSON.stringify(bids) && JSON.stringify(shown(d.asks)) === JSON.stringify(asks)) return;
    if (Date.now() > deadline) {
      throw new Error(`the ladder does not print the book: ${JSON.stringify({ bids, asks, dom: [d.bids, d.asks] })}`);
    }
    await page.waitForTimeout(20);
  }
}

/** The ladder as the page prints it: prices with 2 decimals, amounts with 5 (BTCUSDT, ETHUSDT). */
const printed = (/** @type {[string, string]} */ [p, q]) => [grouped(fixed(p, 2)), grouped(fixed(q, 5))];

/** Compares the page's top levels with GET /api/v3/depth when both describe the same update. */
async function compareWithRest(symbol, tries) {
  let exact = 0;
  for (let i = 0; i < tries; i++) {
    const [s, snap] = await Promise.all([state(), rest(`/api/v3/depth?symbol=${symbol}&limit=15`)]);
    if (s.book.status === 'synced' && s.book.lastUpdateId === snap.lastUpdateId) {
      assert.deepEqual(s.book.bids, snap.bids.slice(0, 15), `bids at update ${snap.lastUpdateId}`);
      assert.deepEqual(s.book.asks, snap.asks.slice(0, 15), `asks at update ${snap.lastUpdateId}`);
      exact++;
    }
    await page.waitForTimeout(20);
  }
  return exact;
}

async function run() {
  // 1. Load and go live.
  await page.goto(pageUrl);
  // The hook appears once the symbol catalogue is loaded.
  await page.waitForFunction(() => /** @type {any} */ (window).__marketPage !== undefined, null, { timeout: 20_000 });
  let s = await until('the page to go live with book, trades, candles and ticker', ready, 20_000);
  assert.equal(s.symbol, 'BTCUSDT');
  assert.equal(s.interval, '1m');
  let d = await untilDom('the ladder and trades drawn', (x) => x.bids.length > 0 && x.asks.length > 0 && x.trades.length > 0 && x.candleMeta !== '', 5000);
  assert.equal(d.conn, 'live');
  assert.ok(d.canvases > 0, 'the chart has canvases');
  for (const v of d.ticker) assert.match(v, /^[+-]?[\d,]+\.\d+( [+-]?\d+\.\d\d%)?$/, `ticker value ${v}`);
  assert.match(d.volumeLabel, /\(BTC\)/);
  assert.match(d.candleMeta, /^O [\d,.]+ H [\d,.]+ L [\d,.]+ C [\d,.]+ · \d+ trades$/);
  // The ladder prints the book's own strings: best bid in the first row, best ask in the last
  // (at the spread). The DOM is redrawn on the next animation frame: poll until they agree.
  await untilAgree(5000);
  log('live:', JSON.stringify(summary(s)));

  // 2. Everything moves.
  const s0 = s;
  const d0 = d;
  s = await until(
    'the book, trades and the current candle to change',
    (x) =>
      x.book.lastUpdateId > s0.book.lastUpdateId &&
      x.trades[0].id > s0.trades[0].id &&
      x.candles.last !== null &&
      (x.candles.last.openTime > s0.candles.last.openTime || x.candles.last.trades > s0.candles.last.trades),
    15_000,
  );
  await untilDom(
    'the ladder, trades and candle text to change',
    (x) =>
      JSON.stringify([x.bids, x.asks]) !== JSON.stringify([d0.bids, d0.asks]) &&
      x.trades[0] !== d0.trades[0] &&
      x.candleMeta !== d0.candleMeta,
    10_000,
  );
  log(`moving: book ${s0.book.lastUpdateId} -> ${s.book.lastUpdateId}, trade ${s0.trades[0].id} -> ${s.trades[0].id}, candle trades ${s0.candles.last.trades} -> ${s.candles.last.trades}`);

  // 3a. Interval switch, cross-checked with REST.
  for (const [interval, ms] of /** @type {const} */ ([['5m', 300_000], ['1h', 3_600_000], ['1m', 60_000]])) {
    await page.click(`button[data-interval="${interval}"]`);
    s = await until(`candles of ${interval}`, (x) => x.interval === interval && x.candles.count > 0, 10_000);
    assert.equal(s.candles.last.openTime % ms, 0, `${interval} candle open time ${s.candles.last.openTime}`);
    const rows = await rest(`/api/v3/klines?symbol=BTCUSDT&interval=${interval}&limit=3`);
    const restLast = rows[rows.length - 1];
    s = await state();
    // The same candle as REST's newest (or its neighbour, across an interval boundary), with
    // about the same trades (the stream pushes every one or two seconds).
    const near =
      s.candles.last.openTime === restLast[0]
        ? Math.abs(s.candles.last.trades - restLast[8]) <= 200
        : Math.abs(s.candles.last.openTime - restLast[0]) === ms;
    assert.ok(near, `page candle ${JSON.stringify(s.candles.last)} vs REST ${JSON.stringify(restLast)}`);
    await untilDom(`the ${interval} button active`, (x) => x.interval === interval && x.hash === `#BTCUSDT/${interval}`, 5000);
  }
  log('interval switch: 5m, 1h, 1m ok');

  // 3b. Symbol switch: the page's trades are ETHUSDT's and its book passes ETHUSDT's checksums.
  const before = (await state()).book.checksumsVerified;
  await page.selectOption('#symbol', 'ETHUSDT');
  s = await until('ETHUSDT live', (x) => x.symbol === 'ETHUSDT' && ready(x) && x.book.checksumsVerified > before + 5, 15_000);
  const pageTrades = await assertTradesOf('ETHUSDT', s);
  d = await untilDom('ETHUSDT labels', (x) => x.symbol === 'ETHUSDT' && /\(ETH\)/.test(x.volumeLabel) && x.title.startsWith('ETH/USDT'), 5000);
  log(`symbol switch: ETHUSDT live, best bid ${s.book.bids[0][0]}, ${pageTrades.length} trades all ETHUSDT's`);
  // Fast clicking: ETHBTC, ETHUSDT and back to ETHBTC within one coalescing window (the last
  // switch sends nothing: ETHBTC is still subscribed), then BTCUSDT.
  await page.waitForTimeout(700);
  await page.selectOption('#symbol', 'ETHBTC');
  await until('the ETHBTC subscription', (x) => x.symbol === 'ETHBTC' && x.trades.length > 0, 2000);
  await page.selectOption('#symbol', 'ETHUSDT');
  await page.selectOption('#symbol', 'ETHBTC');
  const ethbtcBefore = (await state()).book.checksumsVerified;
  s = await until('ETHBTC live after fast clicking', (x) => x.symbol === 'ETHBTC' && ready(x) && x.book.checksumsVerified > ethbtcBefore + 5, 15_000);
  await assertTradesOf('ETHBTC', s);
  await page.selectOption('#symbol', 'BTCUSDT');
  s = await until('BTCUSDT live again', (x) => x.symbol === 'BTCUSDT' && ready(x), 15_000);
  await assertTradesOf('BTCUSDT', s);
  log('fast switching: ETHBTC, ETHUSDT, ETHBTC, BTCUSDT ok');
  // Let the ladder fill in before the picture.
  await page.waitForTimeout(1500);
  await screenshot('market-page.png');
  const exactBefore = await compareWithRest('BTCUSDT', 10);

  // 4. The node goes away and comes back.
  const s1 = await state();
  nodeDown = true;
  console.log('STOP');
  await expectLine('stopped');
  s = await until('the page to notice the node is gone', (x) => x.connection.state === 'reconnecting' && x.connection.disconnects > s1.connection.disconnects, 10_000);
  d = await untilDom('the reconnecting badge', (x) => x.conn === 'reconnecting' && /^reconnecting in \d+\.\d s \(attempt \d+\)$/.test(x.connText), 5000);
  log(`node down: page says "${d.connText}" (${s.connection.lastDisconnect})`);
  await screenshot('market-page-reconnecting.png');
  console.log('START');
  await expectLine('started');
  s = await until('the page to reconnect and resynchronise', (x) => x.connection.connects > s1.connection.connects && ready(x), 30_000);
  const s2 = s;
  log(`reconnected: ${s.connection.disconnects - s1.connection.disconnects} close(s) (the drop, then refused attempts); book from snapshot ${s.book.lastUpdateId}`);
  assert.ok(s2.book.snapshots > s1.book.snapshots, 'a new snapshot was taken');
  // Following again: new diffs checked against the server's checksum, new trades, the candle.
  s = await until(
    'diffs, trades and candles after the reconnect',
    (x) =>
      x.book.checksumsVerified >= s2.book.checksumsVerified + 50 &&
      x.trades[0].id > s2.trades[0].id &&
      (x.candles.last.openTime > s2.candles.last.openTime || x.candles.last.trades > s2.candles.last.trades),
    20_000,
  );
  await page.waitForTimeout(1000);
  nodeDown = false;
  const exactAfter = await compareWithRest('BTCUSDT', 20);
  s = await state();
  assert.equal(s.book.checksumMismatches, 0, 'checksum mismatches');
  assert.equal(s.book.resyncs, 0, `gaps or mismatches: ${s.book.lastResyncReason}`);
  assert.ok(s.book.checksumsVerified >= 100, `only ${s.book.checksumsVerified} diffs verified`);
  await screenshot('market-page-after-restart.png');
  log(
    `book verified against the server's checksum on ${s.book.checksumsVerified} diffs (${s.book.checksumsVerified - s2.book.checksumsVerified} after the reconnect), 0 mismatches, 0 gaps; ` +
      `exact top-15 comparisons with GET /api/v3/depth at equal update ids: ${exactBefore} before, ${exactAfter} after the restart`,
  );
  assert.deepEqual(problems, [], 'console errors or page errors');
}

let failed = false;
try {
  await run();
  log('all checks passed');
} catch (e) {
  failed = true;
  console.error('e2e: FAILED:', e instanceof Error ? e.stack ?? e.message : e);
  if (problems.length > 0) console.error('e2e: page problems:', problems);
  try {
    await screenshot('market-page-failure.png');
  } catch {
    // The browser may be gone.
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
