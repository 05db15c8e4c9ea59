import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bookChecksum, crc32, digits } from '../src/checksum.js';

test('crc32 matches the standard check value', () => {
  // The CRC-32/IEEE check value of "123456789".
  assert.equal(crc32('123456789'), 0xcbf43926);
  assert.equal(crc32(''), 0);
});

test('digits drops the point, then the leading zeros (md-push checksum.rs cases)', () => {
  for (const [s, want] of [
    ['0.05005', '5005'],
    ['0.00000500', '500'],
    ['5541.30000', '554130000'],
    ['100.00000000', '10000000000'],
  ]) {
    assert.equal(digits(s), want, s);
  }
});

test('bookChecksum agrees with md-push (the same vector as md-push/src/checksum.rs)', () => {
  assert.equal(bookChecksum([['5541.30000', '2.50000000']], [['5541.20000', '1.50000000']]), 1_883_170_587);
  const many = Array.from({ length: 15 }, (_, i) => /** @type {[string, string]} */ ([`${i + 1}.00000000`, '1.00000000']));
  assert.equal(bookChecksum(many, []), bookChecksum(many.slice(0, 10), []));
  assert.notEqual(bookChecksum(many, []), bookChecksum(many.slice(0, 9), []));
});
