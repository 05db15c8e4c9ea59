import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE_DELAY_MS, MAX_DELAY_MS, backoffDelay } from '../src/backoff.js';

test('backoff doubles from the base, is capped, and is jittered in the upper half', () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const step = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
    assert.equal(backoffDelay(attempt, () => 0), step / 2, `attempt ${attempt} low`);
    assert.equal(backoffDelay(attempt, () => 0.999999), Math.round(step / 2 + (step / 2) * 0.999999));
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt);
      assert.ok(d >= step / 2 && d <= step, `attempt ${attempt}: ${d}`);
    }
  }
  assert.equal(backoffDelay(0, () => 0.5), 375);
  assert.equal(backoffDelay(100, () => 1), MAX_DELAY_MS);
  assert.equal(backoffDelay(-3, () => 0), BASE_DELAY_MS / 2);
});
