// The book checksum extension md-push carries as "cs" on `@checksum` diff streams (Kraken's
// published algorithm): for the top 10 asks (lowest first) and then the top 10 bids (highest
// first), each level's price and quantity exactly as printed, with the decimal point and then
// the leading zeros removed, concatenated; the CRC-32 (IEEE) of that ASCII string.

/** Levels per side the checksum covers. */
export const CHECKSUM_LEVELS = 10;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32/IEEE of an ASCII string, as an unsigned 32-bit integer.
 * @param {string} s
 * @returns {number}
 */
export function crc32(s) {
  let c = 0xffffffff;
  for (let i = 0; i < s.length; i++) c = TABLE[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A printed decimal with the point and then the leading zeros removed.
 * @param {string} decimal
 * @returns {string}
 */
export function digits(decimal) {
  return decimal.replace('.', '').replace(/^0+/, '');
}

/**
 * The checksum of printed levels: `asks` lowest price first, `bids` highest first.
 * @param {ReadonlyArray<readonly [string, string]>} asks
 * @param {ReadonlyArray<readonly [string, string]>} bids
 * @returns {number}
 */
export function bookChecksum(asks, bids) {
  let s = '';
  for (const [p, q] of asks.slice(0, CHECKSUM_LEVELS)) s += digits(p) + digits(q);
  for (const [p, q] of bids.slice(0, CHECKSUM_LEVELS)) s += digits(p) + digits(q);
  return crc32(s);
}
