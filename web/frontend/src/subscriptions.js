// The streams one combined connection should carry, and the SUBSCRIBE / UNSUBSCRIBE messages
// that move it there. md-push (like Binance) closes a connection that sends more than 5
// messages a second, so changes are coalesced: at most one UNSUBSCRIBE and one SUBSCRIBE per
// `minGapMs`, whatever the user clicks in between.

/**
 * The streams the page needs for a symbol and a candle interval: diff depth at 100 ms with
 * md-push's checksum extension, trades, the 24 h ticker (pushed every second, which also
 * proves the connection alive) and the candles.
 * @param {string} symbol
 * @param {string} interval
 * @returns {string[]}
 */
export function streamsFor(symbol, interval) {
  const s = symbol.toLowerCase();
  return [`${s}@depth@100ms@checksum`, `${s}@trade`, `${s}@ticker`, `${s}@kline_${interval}`];
}

/**
 * What a stream name carries: `{ symbol: 'BTCUSDT', kind: 'depth' | 'trade' | 'ticker' |
 * 'kline', interval? }`, or null for names the page does not use.
 * @param {string} name
 * @returns {{ symbol: string, kind: 'depth' | 'trade' | 'ticker' | 'kline', interval?: string } | null}
 */
export function parseStream(name) {
  const at = name.indexOf('@');
  if (at <= 0) return null;
  const symbol = name.slice(0, at).toUpperCase();
  const rest = name.slice(at + 1);
  if (rest.startsWith('depth')) return { symbol, kind: 'depth' };
  if (rest === 'trade') return { symbol, kind: 'trade' };
  if (rest === 'ticker') return { symbol, kind: 'ticker' };
  if (rest.startsWith('kline_')) return { symbol, kind: 'kline', interval: rest.slice(6) };
  return null;
}

/**
 * @typedef {{ method: 'SUBSCRIBE' | 'UNSUBSCRIBE', params: string[], id: number }} Control
 */

/** Minimum time between two rounds of control messages (two messages at most per round). */
export const MIN_GAP_MS = 600;

export class Subscriptions {
  /** @param {number} [minGapMs] */
  constructor(minGapMs = MIN_GAP_MS) {
    this.minGapMs = minGapMs;
    /** @type {Set<string>} what the page wants */
    this.wanted = new Set();
    /** @type {Set<string>} what the server was asked for on this connection */
    this.active = new Set();
    /** @type {Map<number, string[]>} SUBSCRIBE ids not yet answered */
    this.pending = new Map();
    this.nextId = 1;
    this.lastSent = -Infinity;
  }

  /** @param {Iterable<string>} streams */
  want(streams) {
    this.wanted = new Set(streams);
  }

  /**
   * A new connection opened with the wanted streams in its URL.
   * @returns {string[]} the streams it carries (confirmed by the open itself)
   */
  opened() {
    this.active = new Set(this.wanted);
    this.pending.clear();
    return [...this.active];
  }

  /** The connection is gone. */
  closed() {
    this.active.clear();
    this.pending.clear();
  }

  /**
   * The control messages due at `now` (they are taken as sent), or how long to wait.
   * @param {number} now ms
   * @returns {{ messages: Control[], waitMs: number }}
   */
  plan(now) {
    const drop = [...this.active].filter((s) => !this.wanted.has(s));
    const add = [...this.wanted].filter((s) => !this.active.has(s));
    if (drop.length === 0 && add.length === 0) return { messages: [], waitMs: 0 };
    const since = now - this.lastSent;
    if (since < this.minGapMs) return { messages: [], waitMs: this.minGapMs - since };
    /** @type {Control[]} */
    const messages = [];
    if (drop.length > 0) {
      messages.push({ method: 'UNSUBSCRIBE', params: drop, id: this.nextId++ });
      for (const s of drop) this.active.delete(s);
    }
    if (add.length > 0) {
      const id = this.nextId++;
      messages.push({ method: 'SUBSCRIBE', params: add, id });
      this.pending.set(id, add);
      for (const s of add) this.active.add(s);
    }
    this.lastSent = now;
    return { messages, waitMs: 0 };
  }

  /**
   * Those of `streams` the connection carries and whose subscription is confirmed (not
   * waiting for a SUBSCRIBE answer). A switch away and back before any message went out
   * leaves the old streams subscribed: they need no SUBSCRIBE, but their REST state must be
   * read again.
   * @param {string[]} streams
   * @returns {string[]}
   */
  settled(streams) {
    const waiting = new Set([...this.pending.values()].flat());
    return streams.filter((s) => this.active.has(s) && !waiting.has(s));
  }

  /**
   * The answer to control message `id`: the streams a SUBSCRIBE confirmed (empty for an
   * UNSUBSCRIBE or an unknown id).
   * @param {number} id
   * @returns {string[]}
   */
  answered(id) {
    const streams = this.pending.get(id) ?? [];
    this.pending.delete(id);
    return streams;
  }
}
