// Exact decimal strings for display. Prices and quantities arrive as Binance-style decimal
// strings ("30012.45000000"); the page formats those strings and never turns money into a
// binary float for display. Floats appear only as chart coordinates and bar widths.

/** Digits kept after the point when a decimal is turned into a scaled integer. */
export const SCALE = 18;

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Whether `s` is a plain decimal string ("12", "-0.50").
 * @param {unknown} s
 * @returns {s is string}
 */
export function isDecimal(s) {
  return typeof s === 'string' && DECIMAL.test(s);
}

/**
 * Splits a decimal string into its sign, integer digits and fraction digits.
 * @param {string} s
 * @returns {{ negative: boolean, int: string, frac: string }}
 */
function parts(s) {
  if (!isDecimal(s)) throw new Error(`not a decimal: ${JSON.stringify(s)}`);
  const negative = s.startsWith('-');
  const body = negative ? s.slice(1) : s;
  const dot = body.indexOf('.');
  const int = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? '' : body.slice(dot + 1);
  return { negative, int: int.replace(/^0+(?=\d)/, ''), frac };
}

/**
 * The decimal times 10^SCALE as a BigInt (digits beyond SCALE are cut: never the case for
 * this API's strings, whose assets have at most 18 decimals).
 * @param {string} s
 * @returns {bigint}
 */
export function scaled(s) {
  const { negative, int, frac } = parts(s);
  const v = BigInt(int + frac.padEnd(SCALE, '0').slice(0, SCALE));
  return negative ? -v : v;
}

/**
 * A scaled integer back to a decimal string with exactly `decimals` digits after the point
 * (truncated toward zero).
 * @param {bigint} v
 * @param {number} decimals
 * @returns {string}
 */
export function unscaled(v, decimals) {
  const negative = v < 0n;
  const digits = (negative ? -v : v).toString().padStart(SCALE + 1, '0');
  const int = digits.slice(0, digits.length - SCALE);
  const frac = digits.slice(digits.length - SCALE, digits.length - SCALE + decimals);
  const text = decimals > 0 ? `${int}.${frac}` : int;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/**
 * Compares two decimal strings exactly: negative, zero or positive like `a - b`.
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compare(a, b) {
  const x = scaled(a);
  const y = scaled(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Whether a decimal string is zero ("0", "0.00000000").
 * @param {string} s
 * @returns {boolean}
 */
export function isZero(s) {
  return !/[1-9]/.test(s);
}

/**
 * Digits after the point that a step such as a tick size ("0.01000000") needs: 2.
 * @param {string} step
 * @returns {number}
 */
export function decimalsOf(step) {
  const { frac } = parts(step);
  return frac.replace(/0+$/, '').length;
}

/**
 * The string with exactly `decimals` digits after the point: padded with zeros or cut
 * (truncation, not rounding: a value on its tick or lot loses only zeros).
 * @param {string} s
 * @param {number} decimals
 * @returns {string}
 */
export function fixed(s, decimals) {
  const { negative, int, frac } = parts(s);
  const f = frac.padEnd(decimals, '0').slice(0, decimals);
  const text = decimals > 0 ? `${int}.${f}` : int;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/**
 * Thousands separators in the integer part: "1234567.50" -> "1,234,567.50".
 * @param {string} s
 * @returns {string}
 */
export function grouped(s) {
  const negative = s.startsWith('-');
  const body = negative ? s.slice(1) : s;
  const dot = body.indexOf('.');
  const int = dot < 0 ? body : body.slice(0, dot);
  const rest = dot < 0 ? '' : body.slice(dot);
  const g = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${g}${rest}`;
}

/**
 * `a - b` exactly, printed with `decimals` digits after the point.
 * @param {string} a
 * @param {string} b
 * @param {number} decimals
 * @returns {string}
 */
export function subtract(a, b, decimals) {
  return unscaled(scaled(a) - scaled(b), decimals);
}

/**
 * `a + b` exactly, printed with `decimals` digits after the point.
 * @param {string} a
 * @param {string} b
 * @param {number} decimals
 * @returns {string}
 */
export function add(a, b, decimals) {
  return unscaled(scaled(a) + scaled(b), decimals);
}

/**
 * `part / whole` in basis points with two decimals (truncated), from exact integers;
 * "0.00" when `whole` is zero.
 * @param {string} part
 * @param {string} whole
 * @returns {string}
 */
export function basisPoints(part, whole) {
  const w = scaled(whole);
  if (w === 0n) return '0.00';
  // part / whole * 10_000 bps, two decimals: * 1_000_000, then print with 2 decimals.
  const hundredths = (scaled(part) * 1_000_000n) / w;
  return unscaled(hundredths * 10n ** BigInt(SCALE - 2), 2);
}
