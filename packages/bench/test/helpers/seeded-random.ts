import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** A reproducible source of floats in [0, 1), for tests that count draws. */
export function seededRandom(seed: number): () => number {
  const generator = xoroshiro128plus(seed);
  return () => uniformFloat64(generator);
}

/** Within `sigmas` standard deviations of a binomial count: `draws` trials of probability `p`. */
export function binomialBounds(draws: number, p: number, sigmas = 5): [number, number] {
  const mean = draws * p;
  const spread = sigmas * Math.sqrt(draws * p * (1 - p));
  return [mean - spread, mean + spread];
}
