import { defined } from './assertions.js';
import type { History } from './history.js';
import { seededRandom } from './memory-network.js';
import type { SimCluster } from './sim-cluster.js';
import { text } from './values.js';

/**
 * Clients reading and writing at quorum through `through`, each key's operations one after another (one client
 * per slice of the keys), until `done()`: every answer goes into the history, which flags any read that misses
 * the last acknowledged write.
 */
export function clients(
  cluster: SimCluster,
  options: {
    keys: readonly string[];
    through: () => number[];
    history: History;
    seed: number;
    done: () => boolean;
  },
): Promise<void> {
  const { keys, history, done } = options;
  const random = seededRandom(options.seed);
  const slices = 4;
  let version = 0;
  return Promise.all(
    Array.from({ length: slices }, async (_, slice) => {
      const mine = keys.filter((_, index) => index % slices === slice);
      while (!done()) {
        const key = defined(mine[Math.floor(random() * mine.length)]);
        const through = options.through();
        const coordinator = cluster.node(defined(through[Math.floor(random() * through.length)])).coordinator;
        if (random() < 0.3) {
          const value = text(`w${version++}`);
          const ok = await coordinator.set(key, value).then(
            () => true,
            () => false,
          );
          history.wrote(key, value, ok);
        } else {
          const at = cluster.now();
          await coordinator.get(key).then(
            (got) => history.read(key, got, at),
            () => undefined,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  ).then(() => undefined);
}

/** Writes `count` keys at quorum through the first node, each recorded as acknowledged. */
export async function populate(cluster: SimCluster, count: number, history: History): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `key:${i}`);
  await cluster.settle(
    Promise.all(
      keys.map((key) =>
        cluster
          .node(0)
          .coordinator.set(key, text(`v:${key}`))
          .then(() => history.wrote(key, text(`v:${key}`), true)),
      ),
    ),
  );
  return keys;
}
