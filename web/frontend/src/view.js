// The DOM: ticker, order book ladder, recent trades, connection state, and the candle chart
// (lightweight-charts). Redraws are batched to one per animation frame. Every number shown is
// the API's decimal string, cut or padded to the symbol's tick or lot decimals.

import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  HistogramSeries,
  TickMarkType,
  createChart,
} from 'lightweight-charts';
import { INTERVALS, toBar } from './candles.js';
import { add, basisPoints, compare, decimalsOf, fixed, grouped, subtract } from './decimal.js';

/** Levels shown per side of the ladder. */
export const LADDER_LEVELS = 15;

const UP = '#0ecb81';
const DOWN = '#f6465d';

/**
 * @typedef {import('./feed.js').MarketFeed} MarketFeed
 * @typedef {import('./feed.js').Change} Change
 * @typedef {import('./localbook.js').Level} Level
 */

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from index.html`);
  return el;
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** @param {number} ms */
function clock(ms) {
  const d = new Date(ms);
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * A time axis label in local time (the library's default is UTC).
 * @param {number} seconds
 * @param {TickMarkType} type
 */
function tickMark(seconds, type) {
  const d = new Date(seconds * 1000);
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  switch (type) {
    case TickMarkType.Year:
      return String(d.getFullYear());
    case TickMarkType.Month:
      return d.toLocaleString('en', { month: 'short' });
    case TickMarkType.DayOfMonth:
      return String(d.getDate());
    case TickMarkType.Time:
      return `${two(d.getHours())}:${two(d.getMinutes())}`;
    default:
      return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  }
}

/** One ladder row, reused across redraws. */
class LadderRow {
  constructor() {
    this.root = el('div', 'row');
    this.bar = el('span', 'bar');
    this.price = el('span', 'price');
    this.qty = el('span', 'qty');
    this.total = el('span', 'total');
    this.root.append(this.bar, this.price, this.qty, this.total);
  }

  /**
   * @param {{ price: string, qty: string, total: string, width: number } | null} v
   */
  set(v) {
    this.root.classList.toggle('empty', v === null);
    this.price.textContent = v ? v.price : '';
    this.qty.textContent = v ? v.qty : '';
    this.total.textContent = v ? v.total : '';
    this.bar.style.width = v ? `${(v.width * 100).toFixed(2)}%` : '0';
  }
}

export class MarketView {
  /** @param {MarketFeed} feed */
  constructor(feed) {
    this.feed = feed;
    /** @type {Set<Change>} */
    this.dirty = new Set();
    this.frame = 0;
    /** @type {string | null} */
    this.prevLast = null;

    this.symbolSelect = /** @type {HTMLSelectElement} */ (byId('symbol'));
    for (const s of feed.symbols) {
      const o = document.createElement('option');
      o.value = s.symbol;
      o.textContent = `${s.base}/${s.quote}`;
      this.symbolSelect.append(o);
    }
    this.symbolSelect.value = feed.symbol;
    this.symbolSelect.disabled = false;
    this.symbolSelect.addEventListener('change', () => feed.selectSymbol(this.symbolSelect.value));

    const intervals = byId('intervals');
    /** @type {Map<string, HTMLButtonElement>} */
    this.intervalButtons = new Map();
    for (const i of INTERVALS) {
      const b = /** @type {HTMLButtonElement} */ (el('button', 'interval', i));
      b.type = 'button';
      b.dataset.interval = i;
      b.addEventListener('click', () => feed.selectInterval(i));
      intervals.append(b);
      this.intervalButtons.set(i, b);
    }

    /** @type {LadderRow[]} best ask last (nearest the spread) */
    this.askRows = [];
    /** @type {LadderRow[]} best bid first */
    this.bidRows = [];
    const asks = byId('asks');
    const bids = byId('bids');
    for (let i = 0; i < LADDER_LEVELS; i++) {
      const a = new LadderRow();
      const b = new LadderRow();
      this.askRows.push(a);
      this.bidRows.push(b);
      asks.append(a.root);
      bids.append(b.root);
    }

    this.chart = createChart(byId('chart'), {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: 'transparent' },
        textColor: '#848e9c',
        fontFamily: 'Inter, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        attributionLogo: true,
      },
      grid: { vertLines: { color: '#1b2028' }, horzLines: { color: '#1b2028' } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: '#2b3139' },
      // Local time on the axis and the crosshair, as in the trades list.
      timeScale: {
        borderColor: '#2b3139',
        timeVisible: true,
        secondsVisible: false,
        rightOffset: 8,
        barSpacing: 9,
        tickMarkFormatter: (/** @type {number} */ t, /** @type {TickMarkType} */ type) => tickMark(t, type),
      },
      localization: { timeFormatter: (/** @type {number} */ t) => new Date(t * 1000).toLocaleString() },
    });
    this.candleSeries = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    this.candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.24 } });
    this.volumeSeries = this.chart.addSeries(HistogramSeries, {
      priceFormat: { type: 'volume' },
      priceScaleId: 'volume',
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

    this.symbolChanged();
  }

  /**
   * Something in the feed changed: redraw it on the next frame.
   * @param {Change} what
   */
  changed(what) {
    this.dirty.add(what);
    if (this.frame === 0) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.draw();
      });
    }
  }

  /** @private */
  draw() {
    const d = this.dirty;
    this.dirty = new Set();
    if (this.shownSymbol !== this.feed.symbol) this.symbolChanged();
    if (d.has('connection')) this.drawConnection();
    if (d.has('book') || d.has('connection')) this.drawBook();
    if (d.has('trades')) this.drawTrades();
    if (d.has('ticker')) this.drawTicker();
    if (d.has('candles-reset') || d.has('connection')) this.drawIntervals();
    if (d.has('candles-reset')) this.drawCandles();
    else if (d.has('candle')) this.drawLastCandle();
  }

  /** The labels, decimals and chart format of the selected symbol. @private */
  symbolChanged() {
    const info = this.feed.info(this.feed.symbol);
    if (!info) return;
    /** The symbol the labels and formats are for. */
    this.shownSymbol = info.symbol;
    this.symbolSelect.value = info.symbol;
    this.priceDecimals = decimalsOf(info.tickSize);
    this.qtyDecimals = decimalsOf(info.stepSize);
    byId('book-price-label').textContent = `Price (${info.quote})`;
    byId('book-qty-label').textContent = `Amount (${info.base})`;
    byId('trade-price-label').textContent = `Price (${info.quote})`;
    byId('trade-qty-label').textContent = `Amount (${info.base})`;
    byId('t-vol-label').textContent = `24h volume (${info.base})`;
    byId('t-qvol-label').textContent = `24h volume (${info.quote})`;
    document.title = `${info.base}/${info.quote} · exchange-core-rs`;
    this.candleSeries.applyOptions({
      priceFormat: { type: 'price', precision: this.priceDecimals, minMove: Number(info.tickSize) },
    });
    this.prevLast = null;
  }

  /** @param {string} s */
  price(s) {
    return grouped(fixed(s, this.priceDecimals ?? 2));
  }

  /** @param {string} s */
  qty(s) {
    return grouped(fixed(s, this.qtyDecimals ?? 8));
  }

  /** @private */
  drawConnection() {
    const f = this.feed;
    const conn = byId('conn');
    conn.dataset.state = f.state;
    /** @type {string} */
    let text = f.state;
    if (f.state === 'reconnecting') {
      const s = Math.max(0, (f.retryAt - Date.now()) / 1000).toFixed(1);
      text = `reconnecting in ${s} s (attempt ${f.attempt})`;
      // The countdown ticks while waiting.
      setTimeout(() => {
        if (f.state === 'reconnecting') this.changed('connection');
      }, 250);
    } else if (f.state === 'live') {
      text = 'live';
    }
    conn.title = f.lastDisconnect ? `last disconnect: ${f.lastDisconnect}` : '';
    byId('conn-text').textContent = text;
  }

  /** @private */
  drawIntervals() {
    for (const [i, b] of this.intervalButtons) b.classList.toggle('active', i === this.feed.interval);
  }

  /** @private */
  drawBook() {
    const book = this.feed.book;
    const panel = byId('asks').parentElement;
    panel?.classList.toggle('stale', book.status !== 'synced');
    if (book.status !== 'synced') {
      // While (re)synchronising, the last book drawn for this symbol stays, dimmed; another
      // symbol's is cleared.
      if (this.ladderSymbol !== this.feed.symbol) {
        for (const row of [...this.askRows, ...this.bidRows]) row.set(null);
        byId('mid').textContent = '–';
        byId('spread-text').textContent = '';
        this.ladderSymbol = null;
      }
      const meta = byId('book-meta');
      meta.textContent = book.status === 'buffering' ? 'synchronising…' : 'offline: last known book';
      return;
    }
    /** The symbol whose book the ladder shows. */
    this.ladderSymbol = this.feed.symbol;
    const asks = book.top('asks', LADDER_LEVELS);
    const bids = book.top('bids', LADDER_LEVELS);
    const cumulative = (/** @type {Level[]} */ levels) => {
      let total = '0';
      return levels.map(([, q]) => (total = add(total, q, this.qtyDecimals ?? 8)));
    };
    const askTotals = cumulative(asks);
    const bidTotals = cumulative(bids);
    // Bar widths are coordinates: floats are fine here.
    const max = Math.max(1e-18, ...asks.map(([, q]) => Number(q)), ...bids.map(([, q]) => Number(q)));
    for (let i = 0; i < LADDER_LEVELS; i++) {
      // Asks: best nearest the spread, i.e. the last row.
      const a = asks[i];
      this.askRows[LADDER_LEVELS - 1 - i].set(
        a ? { price: this.price(a[0]), qty: this.qty(a[1]), total: this.qty(askTotals[i]), width: Number(a[1]) / max } : null,
      );
      const b = bids[i];
      this.bidRows[i].set(
        b ? { price: this.price(b[0]), qty: this.qty(b[1]), total: this.qty(bidTotals[i]), width: Number(b[1]) / max } : null,
      );
    }
    const mid = byId('mid');
    const spreadText = byId('spread-text');
    if (asks.length > 0 && bids.length > 0) {
      const spread = subtract(asks[0][0], bids[0][0], this.priceDecimals ?? 2);
      mid.textContent = this.price(this.feed.trades.list[0]?.price ?? bids[0][0]);
      spreadText.textContent = `spread ${grouped(spread)} (${basisPoints(spread, asks[0][0])} bps)`;
    } else {
      mid.textContent = '–';
      spreadText.textContent = 'one-sided book';
    }
    const c = book.counters;
    const meta = byId('book-meta');
    meta.textContent = `#${book.lastUpdateId} · checksum ✓`;
    meta.title =
      `update id ${book.lastUpdateId}; ${c.checksumsVerified} diffs checked against the server's ` +
      `checksum, ${c.checksumMismatches} mismatches; ${c.snapshots} snapshots, ${c.resyncs} resyncs`;
  }

  /** @private */
  drawTrades() {
    const box = byId('trades');
    const rows = this.feed.trades.list.map((t) => {
      // The taker's side: a buyer who was the maker means the taker sold.
      const row = el('div', `row ${t.buyerMaker ? 'sell' : 'buy'}`);
      row.dataset.id = String(t.id);
      row.append(el('span', 'price', this.price(t.price)), el('span', 'qty', this.qty(t.qty)), el('span', 'time', clock(t.time)));
      return row;
    });
    box.replaceChildren(...rows);
    // The middle row of the ladder shows the last trade price.
    this.drawBook();
  }

  /** @private */
  drawTicker() {
    const t = this.feed.ticker;
    const last = byId('t-last');
    const change = byId('t-change');
    if (t === null) {
      for (const id of ['t-last', 't-change', 't-high', 't-low', 't-vol', 't-qvol']) byId(id).textContent = '–';
      return;
    }
    last.textContent = this.price(t.last);
    if (this.prevLast !== null && compare(t.last, this.prevLast) !== 0) {
      last.dataset.dir = compare(t.last, this.prevLast) > 0 ? 'up' : 'down';
    }
    this.prevLast = t.last;
    const negative = t.change.startsWith('-');
    change.dataset.dir = negative ? 'down' : compare(t.change, '0') > 0 ? 'up' : '';
    const sign = negative ? '-' : compare(t.change, '0') === 0 ? '' : '+';
    const abs = (/** @type {string} */ v) => v.replace(/^-/, '');
    change.textContent = `${sign}${this.price(abs(t.change))} ${sign}${fixed(abs(t.changePercent), 2)}%`;
    byId('t-high').textContent = this.price(t.high);
    byId('t-low').textContent = this.price(t.low);
    byId('t-vol').textContent = this.qty(t.volume);
    byId('t-qvol').textContent = grouped(fixed(t.quoteVolume, 2));
  }

  /** @private */
  drawCandles() {
    const list = this.feed.candles.list;
    this.candleSeries.setData(list.map(toBar));
    this.volumeSeries.setData(list.map((c) => volumeBar(c)));
    this.drawCandleMeta();
  }

  /** @private */
  drawLastCandle() {
    const c = this.feed.candles.last();
    if (c === undefined) return;
    this.candleSeries.update(toBar(c));
    this.volumeSeries.update(volumeBar(c));
    this.drawCandleMeta();
  }

  /** @private */
  drawCandleMeta() {
    const c = this.feed.candles.last();
    byId('candle-meta').textContent = c
      ? `O ${this.price(c.open)} H ${this.price(c.high)} L ${this.price(c.low)} C ${this.price(c.close)} · ${c.trades} trades`
      : this.feed.candles.loaded
        ? 'no trades yet'
        : '';
  }
}

/**
 * @param {import('./candles.js').Candle} c
 */
function volumeBar(c) {
  return {
    time: /** @type {import('lightweight-charts').UTCTimestamp} */ (Math.floor(c.openTime / 1000)),
    value: Number(c.volume),
    color: compare(c.close, c.open) >= 0 ? 'rgba(14, 203, 129, 0.45)' : 'rgba(246, 70, 93, 0.45)',
  };
}
