/**
 * A small deterministic PRNG (mulberry32) for `ClusterNode`'s `random` and for tests: the same seed gives the same
 * gossip choices, drops, fault schedules and retry jitter, so a failing run can be replayed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Up to `count` of `items` in random order (a Fisher-Yates shuffle on `random`). */
export function pick<T>(random: () => number, items: readonly T[], count: number): T[] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swapped = shuffled[j];
    if (swapped === undefined) continue;
    shuffled[j] = shuffled[i] ?? swapped;
    shuffled[i] = swapped;
  }
  return shuffled.slice(0, count);
}
