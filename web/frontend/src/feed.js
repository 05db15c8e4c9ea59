// The market feed: one combined-stream WebSocket (`/stream?streams=..`) plus the REST reads,
// kept in step for one symbol and one candle interval.
//
// * Switching symbol or interval changes the subscriptions on the open connection with
//   SUBSCRIBE / UNSUBSCRIBE (coalesced, see subscriptions.js) instead of reconnecting: the
//   other streams keep flowing, and a switch costs one round trip. Each stream's REST state
//   is read once the server confirmed the subscription (the connection's open, or the
//   SUBSCRIBE answer), so nothing published after the read can be missed.
// * The order book follows Binance's local-book procedure (localbook.js); a gap or a
//   checksum mismatch takes a fresh snapshot on the same connection.
// * When the socket closes, errs, or stays silent for STALL_MS (the ticker stream alone
//   pushes every second), the feed reconnects after a capped exponential backoff with
//   jitter, then resynchronises everything: book, trades, candles and ticker.

import { backoffDelay } from './backoff.js';
import { CandleSeries, fromRest as candleFromRest, fromStream as candleFromStream } from './candles.js';
import { LocalBook } from './localbook.js';
import { parseStream, streamsFor, Subscriptions } from './subscriptions.js';
import { RecentTrades, fromRest as tradeFromRest, fromStream as tradeFromStream } from './trades.js';

/** Levels asked of `GET /api/v3/depth` (the ladder shows far fewer). */
export const SNAPSHOT_LIMIT = 1000;
/** Trades kept and shown. */
export const TRADES_KEPT = 60;
/** Candles kept (and asked of `GET /api/v3/klines`). */
export const CANDLES_KEPT = 1000;
/** A connection with no message for this long is taken as dead. */
export const STALL_MS = 8000;
/** Snapshots in a row that may turn out older than the stream before reconnecting. */
const MAX_STALE_SNAPSHOTS = 5;

/**
 * @typedef {'connecting' | 'syncing' | 'live' | 'reconnecting'} ConnState
 * @typedef {{ last: string, change: string, changePercent: string, high: string, low: string,
 *   volume: string, quoteVolume: string, closeTime: number }} Ticker
 * @typedef {{ symbol: string, base: string, quote: string, tickSize: string,
 *   stepSize: string }} SymbolInfo
 * @typedef {'connection' | 'book' | 'trades' | 'ticker' | 'candles-reset' | 'candle'} Change
 */

export class MarketFeed {
  /**
   * @param {object} opts
   * @param {string} opts.origin e.g. "http://127.0.0.1:8080"
   * @param {SymbolInfo[]} opts.symbols
   * @param {string} opts.symbol
   * @param {string} opts.interval
   * @param {(what: Change) => void} opts.onChange
   */
  constructor({ origin, symbols, symbol, interval, onChange }) {
    this.origin = origin;
    this.symbols = symbols;
    this.symbol = symbol;
    this.interval = interval;
    this.onChange = onChange;
    /** Bumped on every symbol switch and every new connection: late answers are dropped. */
    this.epoch = 0;
    /** Bumped on every interval switch (and with `epoch`). */
    this.klineEpoch = 0;
    this.book = new LocalBook();
    this.trades = new RecentTrades(TRADES_KEPT);
    this.candles = new CandleSeries(CANDLES_KEPT);
    /** @type {Ticker | null} */
    this.ticker = null;
    this.subs = new Subscriptions();
    this.subs.want(streamsFor(symbol, interval));
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {ConnState} */
    this.state = 'connecting';
    this.attempt = 0;
    /** When the next reconnect is due (ms since the epoch), while reconnecting. */
    this.retryAt = 0;
    this.connects = 0;
    this.disconnects = 0;
    /** @type {string | null} */
    this.lastDisconnect = null;
    this.lastMessageAt = 0;
    this.staleSnapshots = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.subsTimer = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    this.watchdog = setInterval(() => this.checkStall(), 1000);
  }

  /** Opens the connection. */
  start() {
    this.connect();
  }

  /** @param {string} symbol */
  info(symbol) {
    return this.symbols.find((s) => s.symbol === symbol);
  }

  /** @param {string} symbol */
  selectSymbol(symbol) {
    if (symbol === this.symbol || !this.info(symbol)) return;
    this.symbol = symbol;
    this.epoch++;
    this.klineEpoch++;
    this.trades.clear();
    this.candles.clear();
    this.ticker = null;
    if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) {
      this.book.reset();
      this.setState('syncing');
    } else {
      this.book.stop();
    }
    this.want(streamsFor(this.symbol, this.interval));
    for (const c of /** @type {Change[]} */ (['book', 'trades', 'ticker', 'candles-reset'])) {
      this.onChange(c);
    }
  }

  /** @param {string} interval */
  selectInterval(interval) {
    if (interval === this.interval) return;
    this.interval = interval;
    this.klineEpoch++;
    this.candles.clear();
    this.want(streamsFor(this.symbol, this.interval));
    this.onChange('candles-reset');
  }

  /**
   * Moves the connection to `streams`. Streams new to the selection are loaded when the
   * server confirms them, or at once when the connection still carries them (a switch away
   * and back within one coalescing window sends nothing).
   * @private
   * @param {string[]} streams
   */
  want(streams) {
    const before = this.subs.wanted;
    this.subs.want(streams);
    this.flushSubscriptions();
    if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) {
      this.confirmed(this.subs.settled(streams.filter((s) => !before.has(s))));
    }
  }

  /** @private */
  connect() {
    this.retryTimer = null;
    this.epoch++;
    this.klineEpoch++;
    this.setState('connecting');
    const url = new URL(`/stream?streams=${[...this.subs.wanted].join('/')}`, this.origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url.toString());
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.connects++;
      this.lastMessageAt = Date.now();
      this.setState('syncing');
      this.confirmed(this.subs.opened());
    };
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      this.onMessage(String(m.data));
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.disconnected(`closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
    };
    // An error is always followed by a close event.
    ws.onerror = () => {};
  }

  /**
   * The connection is gone: forget the stream state and reconnect after the backoff.
   * @private
   * @param {string} why
   */
  disconnected(why) {
    const ws = this.ws;
    this.ws = null;
    if (ws !== null) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
    }
    this.disconnects++;
    this.lastDisconnect = why;
    this.epoch++;
    this.klineEpoch++;
    this.subs.closed();
    this.book.stop();
    const delay = backoffDelay(this.attempt);
    this.attempt++;
    this.retryAt = Date.now() + delay;
    this.setState('reconnecting');
    this.onChange('book');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** @private */
  checkStall() {
    if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastMessageAt > STALL_MS) this.disconnected(`no message for ${STALL_MS / 1000} s`);
  }

  /**
   * @private
   * @param {ConnState} state
   */
  setState(state) {
    this.state = state;
    this.onChange('connection');
  }

  /** Sends the due SUBSCRIBE / UNSUBSCRIBE messages, or schedules them. @private */
  flushSubscriptions() {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN || this.subsTimer !== null) return;
    const { messages, waitMs } = this.subs.plan(Date.now());
    for (const m of messages) ws.send(JSON.stringify(m));
    if (waitMs > 0) {
      this.subsTimer = setTimeout(() => {
        this.subsTimer = null;
        this.flushSubscriptions();
      }, waitMs);
    }
  }

  /**
   * The server now pushes these streams: read the matching REST state.
   * @private
   * @param {string[]} streams
   */
  confirmed(streams) {
    for (const name of streams) {
      const s = parseStream(name);
      if (s === null || s.symbol !== this.symbol || !this.subs.wanted.has(name)) continue;
      if (s.kind === 'depth') {
        // Diffs buffered since a symbol switch are kept: the procedure drops what the
        // snapshot covers.
        if (this.book.status !== 'buffering') this.book.reset();
        this.staleSnapshots = 0;
        this.setState('syncing');
        this.onChange('book');
        void this.loadSnapshot(this.epoch);
      } else if (s.kind === 'trade') {
        void this.loadTrades(this.epoch);
      } else if (s.kind === 'ticker') {
        void this.loadTicker(this.epoch);
      } else if (s.kind === 'kline' && s.interval === this.interval) {
        void this.loadCandles(this.epoch, this.klineEpoch);
      }
    }
  }

  /**
   * @private
   * @param {string} text
   */
  onMessage(text) {
    /** @type {any} */
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg.stream === 'string' && msg.data !== undefined) {
      this.onStream(msg.stream, msg.data);
    } else if (msg.id !== undefined && msg.id !== null) {
      if (msg.error) {
        // A refused SUBSCRIBE leaves the feed incomplete: start over on a new connection.
        console.warn('market data request refused', msg.error);
        this.disconnected(`request refused: ${msg.error.msg}`);
        return;
      }
      this.confirmed(this.subs.answered(Number(msg.id)));
    } else if (msg.error) {
      // The slow-consumer notice; the server closes the connection next.
      this.lastDisconnect = String(msg.error.msg);
    }
  }

  /**
   * @private
   * @param {string} name
   * @param {any} data
   */
  onStream(name, data) {
    if (!this.subs.wanted.has(name)) return; // in flight before an UNSUBSCRIBE
    switch (data.e) {
      case 'depthUpdate': {
        const r = this.book.onDiff(data);
        if (r.kind === 'applied') this.onChange('book');
        else if (r.kind === 'resync') {
          console.warn('order book resync:', r.reason);
          this.setState('syncing');
          this.onChange('book');
          void this.loadSnapshot(this.epoch);
        }
        break;
      }
      case 'trade':
        if (this.trades.add([tradeFromStream(data)])) this.onChange('trades');
        break;
      case '24hrTicker':
        this.setTicker({
          last: data.c,
          change: data.p,
          changePercent: data.P,
          high: data.h,
          low: data.l,
          volume: data.v,
          quoteVolume: data.q,
          closeTime: data.C,
        });
        break;
      case 'kline': {
        if (data.k.i !== this.interval) break;
        const r = this.candles.live(candleFromStream(data.k));
        if (r.kind !== 'ignored') this.onChange('candle');
        break;
      }
      default:
        break;
    }
  }

  /**
   * @private
   * @param {Ticker} t
   */
  setTicker(t) {
    if (this.ticker !== null && t.closeTime < this.ticker.closeTime) return;
    this.ticker = t;
    this.onChange('ticker');
  }

  /**
   * A GET of the public API; JSON, or an Error with the status.
   * @private
   * @param {string} path
   * @returns {Promise<any>}
   */
  async get(path) {
    const r = await fetch(new URL(path, this.origin), { cache: 'no-store' });
    if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
    return r.json();
  }

  /**
   * Reads `f` unless the feed moved on; on a failure, tries again after the backoff while
   * the same connection and symbol last.
   * @private
   * @template T
   * @param {number} epoch
   * @param {() => Promise<T>} f
   * @param {(value: T) => void} use
   * @param {number} [tries]
   */
  async read(epoch, f, use, tries = 0) {
    let value;
    try {
      value = await f();
    } catch (e) {
      if (epoch !== this.epoch) return;
      console.warn('market data read failed', e);
      setTimeout(() => {
        if (epoch === this.epoch) void this.read(epoch, f, use, tries + 1);
      }, backoffDelay(tries));
      return;
    }
    if (epoch === this.epoch) use(value);
  }

  /**
   * Step 2 of the local-book procedure.
   * @private
   * @param {number} epoch
   */
  async loadSnapshot(epoch) {
    const symbol = this.symbol;
    await this.read(
      epoch,
      () => this.get(`/api/v3/depth?symbol=${symbol}&limit=${SNAPSHOT_LIMIT}`),
      (snap) => {
        const r = this.book.onSnapshot(snap);
        if (r.kind === 'synced') {
          this.staleSnapshots = 0;
          this.attempt = 0;
          this.setState('live');
        } else if (r.kind === 'stale') {
          this.staleSnapshots++;
          if (this.staleSnapshots > MAX_STALE_SNAPSHOTS) {
            this.disconnected('snapshots keep falling behind the stream');
            return;
          }
          setTimeout(() => {
            if (epoch === this.epoch) void this.loadSnapshot(epoch);
          }, 100 * this.staleSnapshots);
        } else if (r.kind === 'resync') {
          console.warn('order book resync:', r.reason);
          void this.loadSnapshot(epoch);
        }
        this.onChange('book');
      },
    );
  }

  /**
   * @private
   * @param {number} epoch
   */
  async loadTrades(epoch) {
    const symbol = this.symbol;
    await this.read(
      epoch,
      () => this.get(`/api/v3/trades?symbol=${symbol}&limit=${TRADES_KEPT}`),
      (rows) => {
        this.trades.add(rows.map(tradeFromRest));
        this.onChange('trades');
      },
    );
  }

  /**
   * @private
   * @param {number} epoch
   */
  async loadTicker(epoch) {
    const symbol = this.symbol;
    await this.read(
      epoch,
      () => this.get(`/api/v3/ticker/24hr?symbol=${symbol}`),
      (t) =>
        this.setTicker({
          last: t.lastPrice,
          change: t.priceChange,
          changePercent: t.priceChangePercent,
          high: t.highPrice,
          low: t.lowPrice,
          volume: t.volume,
          quoteVolume: t.quoteVolume,
          closeTime: t.closeTime,
        }),
    );
  }

  /**
   * @private
   * @param {number} epoch
   * @param {number} klineEpoch
   */
  async loadCandles(epoch, klineEpoch) {
    const { symbol, interval } = this;
    await this.read(
      epoch,
      () => this.get(`/api/v3/klines?symbol=${symbol}&interval=${interval}&limit=${CANDLES_KEPT}`),
      (rows) => {
        if (klineEpoch !== this.klineEpoch) return;
        const now = Date.now();
        this.candles.setHistory(rows.map((/** @type {any[]} */ r) => candleFromRest(r, now)));
        this.onChange('candles-reset');
      },
    );
  }
}
