/** mulberry32: a small, fast, seedable PRNG, so `make seed` writes the same data every time. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Picks an index from cumulative weights (ascending, last = total) by binary search. */
export function pickWeighted(cumulative: readonly number[], random: () => number): number {
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

/** Cumulative Zipf weights 1/(rank+1)^s: a few huge buckets and a long tail of tiny ones. */
export function zipfCumulative(count: number, exponent: number): number[] {
  const cumulative: number[] = [];
  let sum = 0;
  for (let rank = 0; rank < count; rank += 1) {
    sum += 1 / (rank + 1) ** exponent;
    cumulative.push(sum);
  }
  return cumulative;
}
