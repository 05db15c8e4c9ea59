// The market page: loads the symbol catalogue, then runs the feed and the view.
//
// Debug hook (read-only, used by the end-to-end test web/e2e/market_page.mjs and handy in a
// browser console): `window.__marketPage.state()` returns a plain-data copy of what the page
// holds: connection state and counters, the selected symbol and interval, the book (status,
// lastUpdateId, top levels, procedure counters), trades, candles and the ticker.

import './style.css';
import { backoffDelay } from './backoff.js';
import { INTERVALS } from './candles.js';
import { MarketFeed } from './feed.js';
import { MarketView, LADDER_LEVELS } from './view.js';

/**
 * `GET /api/v3/exchangeInfo`, retried with backoff until the node answers.
 * @returns {Promise<import('./feed.js').SymbolInfo[]>}
 */
async function loadSymbols() {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch('/api/v3/exchangeInfo', { cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const info = await r.json();
      /** @type {import('./feed.js').SymbolInfo[]} */
      const symbols = [];
      for (const s of info.symbols) {
        const filter = (/** @type {string} */ t) => s.filters.find((/** @type {any} */ f) => f.filterType === t);
        symbols.push({
          symbol: s.symbol,
          base: s.baseAsset,
          quote: s.quoteAsset,
          tickSize: filter('PRICE_FILTER').tickSize,
          stepSize: filter('LOT_SIZE').stepSize,
        });
      }
      return symbols;
    } catch (e) {
      const text = document.getElementById('conn-text');
      if (text) text.textContent = `waiting for the node (${e instanceof Error ? e.message : e})`;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt)));
    }
  }
}

/** `#ETHUSDT/5m` selects a symbol and an interval. */
function fromHash() {
  const [symbol, interval] = decodeURIComponent(location.hash.slice(1)).split('/');
  return { symbol: (symbol ?? '').toUpperCase(), interval: interval ?? '' };
}

async function main() {
  const symbols = await loadSymbols();
  if (symbols.length === 0) {
    const text = document.getElementById('conn-text');
    if (text) text.textContent = 'the exchange lists no symbol';
    return;
  }
  const wanted = fromHash();
  const symbol = symbols.some((s) => s.symbol === wanted.symbol) ? wanted.symbol : symbols[0].symbol;
  const interval = INTERVALS.includes(wanted.interval) ? wanted.interval : '1m';
  /** @type {MarketView | null} */
  let view = null;
  const feed = new MarketFeed({
    origin: location.origin,
    symbols,
    symbol,
    interval,
    onChange: (what) => {
      view?.changed(what);
      if (what === 'candles-reset' || what === 'connection') {
        history.replaceState(null, '', `#${feed.symbol}/${feed.interval}`);
      }
    },
  });
  view = new MarketView(feed);
  for (const c of /** @type {const} */ (['connection', 'book', 'trades', 'ticker', 'candles-reset'])) {
    view.changed(c);
  }
  feed.start();

  Object.defineProperty(window, '__marketPage', {
    value: Object.freeze({
      /** A plain-data copy of the page's state. */
      state() {
        const b = feed.book;
        return {
          connection: {
            state: feed.state,
            connects: feed.connects,
            disconnects: feed.disconnects,
            attempt: feed.attempt,
            lastDisconnect: feed.lastDisconnect,
          },
          symbol: feed.symbol,
          interval: feed.interval,
          book: {
            status: b.status,
            lastUpdateId: b.lastUpdateId,
            bids: b.top('bids', LADDER_LEVELS),
            asks: b.top('asks', LADDER_LEVELS),
            checksum: b.checksum(),
            ...b.counters,
            lastResyncReason: b.lastResyncReason,
          },
          trades: feed.trades.list.map((t) => ({ ...t })),
          candles: {
            loaded: feed.candles.loaded,
            count: feed.candles.list.length,
            last: feed.candles.last() ? { ...feed.candles.last() } : null,
          },
          ticker: feed.ticker ? { ...feed.ticker } : null,
        };
      },
    }),
  });
}

void main();
