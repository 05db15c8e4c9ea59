// Candles of one symbol and interval: the REST history (`GET /api/v3/klines`) merged with
// the live `@kline_<interval>` stream. Prices stay decimal strings here; the chart gets
// floats (coordinates only) through `toBar`.

/**
 * @typedef {{ openTime: number, open: string, high: string, low: string, close: string,
 *   volume: string, trades: number, closed: boolean }} Candle
 * @typedef {import('lightweight-charts').UTCTimestamp} UTCTimestamp seconds (a branded number)
 * @typedef {{ time: UTCTimestamp, open: number, high: number, low: number, close: number }} Bar
 * @typedef {{ kind: 'ignored' } | { kind: 'updated', candle: Candle }
 *   | { kind: 'appended', candle: Candle }} CandleOutcome
 */

/** The intervals the page offers (md-push serves every Binance interval). */
export const INTERVALS = ['1m', '5m', '15m', '1h', '4h', '1d'];

export class CandleSeries {
  /** @param {number} limit most candles kept */
  constructor(limit) {
    this.limit = limit;
    /** @type {Candle[]} oldest first */
    this.list = [];
    /** Whether the REST history has been loaded since the last clear. */
    this.loaded = false;
    /** @type {Candle[]} live candles received before the history */
    this.early = [];
  }

  clear() {
    this.list = [];
    this.loaded = false;
    this.early = [];
  }

  /**
   * Replaces the history, then replays live candles that arrived before it.
   * @param {Candle[]} history oldest first
   */
  setHistory(history) {
    this.list = history.slice(-this.limit);
    this.loaded = true;
    const early = this.early;
    this.early = [];
    for (const c of early) this.live(c);
  }

  /**
   * One live candle. The same open time replaces the last candle unless it is older (fewer
   * trades: a message published before the history was read); a later open time appends;
   * an earlier one is ignored. Intervals without trades are skipped, as the REST history
   * omits them.
   * @param {Candle} c
   * @returns {CandleOutcome}
   */
  live(c) {
    if (c.trades === 0) return { kind: 'ignored' };
    if (!this.loaded) {
      this.early.push(c);
      if (this.early.length > this.limit) this.early.shift();
      return { kind: 'ignored' };
    }
    const last = this.list[this.list.length - 1];
    if (last === undefined || c.openTime > last.openTime) {
      this.list.push(c);
      if (this.list.length > this.limit) this.list.shift();
      return { kind: 'appended', candle: c };
    }
    if (c.openTime === last.openTime && c.trades >= last.trades) {
      this.list[this.list.length - 1] = c;
      return { kind: 'updated', candle: c };
    }
    return { kind: 'ignored' };
  }

  /** The newest candle, if any. */
  last() {
    return this.list[this.list.length - 1];
  }
}

/**
 * A row of `GET /api/v3/klines`: [openTime, o, h, l, c, v, closeTime, q, n, V, Q, ignore].
 * @param {any[]} r
 * @param {number} now
 * @returns {Candle}
 */
export function fromRest(r, now) {
  return {
    openTime: r[0],
    open: r[1],
    high: r[2],
    low: r[3],
    close: r[4],
    volume: r[5],
    trades: r[8],
    closed: r[6] < now,
  };
}

/**
 * The `k` of a `kline` stream event.
 * @param {any} k
 * @returns {Candle}
 */
export function fromStream(k) {
  return {
    openTime: k.t,
    open: k.o,
    high: k.h,
    low: k.l,
    close: k.c,
    volume: k.v,
    trades: k.n,
    closed: k.x,
  };
}

/**
 * The chart's bar: seconds and floats (coordinates only; the page prints the strings).
 * @param {Candle} c
 * @returns {Bar}
 */
export function toBar(c) {
  return {
    time: /** @type {UTCTimestamp} */ (Math.floor(c.openTime / 1000)),
    open: Number(c.open),
    high: Number(c.high),
    low: Number(c.low),
    close: Number(c.close),
  };
}
