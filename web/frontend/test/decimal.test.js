import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  add,
  basisPoints,
  compare,
  decimalsOf,
  fixed,
  grouped,
  isDecimal,
  isZero,
  scaled,
  subtract,
  unscaled,
} from '../src/decimal.js';

test('decimalsOf: the digits a tick or lot needs', () => {
  for (const [step, want] of [
    ['0.01000000', 2],
    ['0.00001000', 5],
    ['1.00000000', 0],
    ['1', 0],
    ['0.00000001', 8],
    ['10.00000000', 0],
    ['0.5', 1],
  ]) {
    assert.equal(decimalsOf(step), want, step);
  }
});

test('fixed pads or cuts without rounding', () => {
  for (const [s, n, want] of [
    ['30012.45000000', 2, '30012.45'],
    ['30012.45900000', 2, '30012.45'],
    ['0.00001000', 5, '0.00001'],
    ['12', 3, '12.000'],
    ['12.5', 0, '12'],
    ['-1.25000000', 2, '-1.25'],
    ['-0.00100000', 2, '0.00'],
    ['007.10', 2, '7.10'],
    ['0.00000000', 2, '0.00'],
  ]) {
    assert.equal(fixed(s, n), want, `${s} ${n}`);
  }
});

test('grouped adds thousands separators to the integer part only', () => {
  for (const [s, want] of [
    ['1234567.891234', '1,234,567.891234'],
    ['123', '123'],
    ['1234', '1,234'],
    ['-98765.5', '-98,765.5'],
    ['0.0001234', '0.0001234'],
    ['100000000', '100,000,000'],
  ]) {
    assert.equal(grouped(s), want, s);
  }
});

test('compare, add and subtract are exact where binary floats are not', () => {
  assert.equal(add('0.1', '0.2', 2), '0.30');
  assert.notEqual(0.1 + 0.2, 0.3);
  assert.equal(subtract('30000.01000000', '30000.00000000', 2), '0.01');
  assert.equal(subtract('1.00000000', '2.50000000', 2), '-1.50');
  assert.equal(add('99999999999.99999999', '0.00000001', 8), '100000000000.00000000');
  // 18-decimal assets: beyond 2^53.
  assert.equal(add('123456789.123456789012345678', '0.000000000000000001', 18), '123456789.123456789012345679');
  assert.equal(compare('10.0', '9.99999999'), 1);
  assert.equal(compare('-1', '0'), -1);
  assert.equal(compare('5.000', '5'), 0);
  assert.equal(scaled('1.5'), 1_500_000_000_000_000_000n);
  assert.equal(unscaled(-1_500_000_000_000_000_000n, 1), '-1.5');
  assert.equal(unscaled(0n, 3), '0.000');
});

test('basisPoints of a spread', () => {
  assert.equal(basisPoints('0.01', '30000.00'), '0.00');
  assert.equal(basisPoints('3.00', '30000.00'), '1.00');
  assert.equal(basisPoints('1', '3'), '3333.33');
  assert.equal(basisPoints('1', '0'), '0.00');
});

test('isZero and isDecimal', () => {
  assert.ok(isZero('0.00000000'));
  assert.ok(isZero('0'));
  assert.ok(!isZero('0.00000001'));
  assert.ok(isDecimal('12.5') && isDecimal('-3') && !isDecimal('1e5') && !isDecimal('') && !isDecimal('.5'));
  assert.throws(() => scaled('1e5'));
});
