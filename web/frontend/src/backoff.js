// Reconnect delays: capped exponential backoff with jitter.

/** First delay, ms. */
export const BASE_DELAY_MS = 500;
/** Longest delay, ms. */
export const MAX_DELAY_MS = 15_000;

/**
 * The wait before reconnect attempt `attempt` (0 for the first): the exponential step
 * `min(cap, base * 2^attempt)`, of which the upper half is jittered ("equal jitter": never
 * less than half the step, so a flapping server is not hammered, and clients that lost the
 * same server do not come back in lockstep).
 * @param {number} attempt
 * @param {() => number} [random] uniform in [0, 1)
 * @param {number} [base]
 * @param {number} [cap]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, random = Math.random, base = BASE_DELAY_MS, cap = MAX_DELAY_MS) {
  const n = Math.max(0, Math.min(30, Math.floor(attempt)));
  const step = Math.min(cap, base * 2 ** n);
  return Math.round(step / 2 + (step / 2) * random());
}
