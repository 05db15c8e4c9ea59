// Recent trades: the REST history merged with the live `@trade` stream, newest first, each
// trade once (by id), at most `limit`.

/**
 * @typedef {{ id: number, price: string, qty: string, time: number, buyerMaker: boolean }} Trade
 */

export class RecentTrades {
  /** @param {number} limit */
  constructor(limit) {
    this.limit = limit;
    /** @type {Trade[]} newest first */
    this.list = [];
  }

  clear() {
    this.list = [];
  }

  /**
   * Adds trades (any order, duplicates allowed); true when the list changed.
   * @param {Trade[]} trades
   * @returns {boolean}
   */
  add(trades) {
    const have = new Set(this.list.map((t) => t.id));
    const fresh = trades.filter((t) => !have.has(t.id) && (have.add(t.id), true));
    if (fresh.length === 0) return false;
    const before = this.list;
    const merged = before.concat(fresh);
    merged.sort((a, b) => b.id - a.id);
    this.list = merged.slice(0, this.limit);
    return this.list.length !== before.length || this.list.some((t, i) => t !== before[i]);
  }

  /** The newest trade id, or -1. */
  lastId() {
    return this.list.length > 0 ? this.list[0].id : -1;
  }
}

/**
 * A row of `GET /api/v3/trades`.
 * @param {any} r
 * @returns {Trade}
 */
export function fromRest(r) {
  return { id: r.id, price: r.price, qty: r.qty, time: r.time, buyerMaker: r.isBuyerMaker };
}

/**
 * A `trade` stream event.
 * @param {any} e
 * @returns {Trade}
 */
export function fromStream(e) {
  return { id: e.t, price: e.p, qty: e.q, time: e.T, buyerMaker: e.m };
}
