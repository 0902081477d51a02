// @ts-check
/**
 * Seeded draws shared by the seed (`make seed`: the same data every time) and the load-test workload (the same
 * requests for the same LOADTEST_SEED, in k6 and in the native runner). Plain JavaScript with JSDoc types because
 * k6's runtime imports it too: load-tests/lib/workload-core.js reaches it at ../../core/src/seed/random.js, and the
 * compose `k6` service mounts this file at that path.
 */

/** mulberry32: a small, fast, seedable PRNG. @param {number} seed @returns {() => number} */
export function createRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * An index drawn by weight, by binary search in cumulative weights (ascending, last = total).
 * @param {readonly number[]} cumulative @param {() => number} random @returns {number}
 */
export function pickWeighted(cumulative, random) {
  const total = cumulative[cumulative.length - 1] ?? 0;
  const target = random() * total;
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((cumulative[mid] ?? 0) > target) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * Cumulative Zipf weights 1/(rank+1)^s: a few huge buckets and a long tail of tiny ones; rank 0 is the heaviest.
 * @param {number} count @param {number} exponent @returns {number[]}
 */
export function zipfCumulative(count, exponent) {
  /** @type {number[]} */
  const cumulative = [];
  let sum = 0;
  for (let rank = 0; rank < count; rank += 1) {
    sum += 1 / (rank + 1) ** exponent;
    cumulative.push(sum);
  }
  return cumulative;
}
