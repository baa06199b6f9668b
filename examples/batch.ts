/**
 * Batches: a product catalogue loaded with one `mset`, shown a page at a time with one `mget` a page, and what a
 * batch that partly failed tells you. Run a cluster (`npm start`), then:
 * node examples/dist/batch.js [host:port …]   (default: the three nodes of `npm start`)
 * Run it with one node of the cluster down to see a batch that partly failed.
 */
import { ConnectionError, KVClient, KVError, type MultiKeyFailure } from '@kvdb/client';

type Product = { name: string; price: number };

const nodes =
  process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:5878', '127.0.0.1:5879', '127.0.0.1:5880'];
const kv = new KVClient({ nodes });

const names = ['kettle', 'teapot', 'mug', 'saucer', 'spoon', 'tray', 'cosy', 'strainer', 'caddy', 'timer'];
const catalogue = new Map<string, Product>(
  names.map((name, i) => [`product:${i + 1}`, { name, price: 5 + i * 2.5 }]),
);
const PAGE_SIZE = 4;

/** One page of the catalogue, `null` where a product has no value: one round trip whatever the page size. */
async function page(number: number): Promise<Array<Product | null>> {
  const keys = Array.from({ length: PAGE_SIZE }, (_, i) => `product:${(number - 1) * PAGE_SIZE + i + 1}`);
  return (await kv.mget(keys)) as Array<Product | null>;
}

/**
 * Sets new prices on every replica (`consistency: 'all'`). A batch is not atomic: each key is written as `set`
 * writes it. When some keys fail, the call rejects with the class of the first key's error, and `error.data` (a
 * `MultiKeyFailure`) names each key that failed; the others are written. Here the failed ones are written again
 * at quorum, which a cluster with one node down still reaches.
 */
async function updatePrices(updates: Array<[string, Product]>): Promise<void> {
  try {
    await kv.mset(updates, { consistency: 'all' });
    console.log(`updated ${updates.length} prices on every replica`);
  } catch (error) {
    if (!(error instanceof KVError) || !isMultiKeyFailure(error.data)) throw error;
    const { operation, keys, failedKeys } = error.data;
    console.log(`${operation} failed for ${failedKeys.length} of ${keys} keys (${error.name}):`);
    for (const { index, key, code, reason } of failedKeys)
      console.log(`  [${index}] ${key}: ${code} ${reason}`);
    await kv.mset(failedKeys.flatMap(({ index }) => updates.slice(index, index + 1)));
    console.log(`wrote those ${failedKeys.length} again at quorum`);
  }
}

function isMultiKeyFailure(data: unknown): data is MultiKeyFailure {
  return typeof data === 'object' && data !== null && Array.isArray((data as MultiKeyFailure).failedKeys);
}

try {
  // One call for the whole catalogue (up to the node's --max-batch, 1,000 keys a call).
  await kv.mset(catalogue);
  console.log(`loaded ${catalogue.size} products with one mset`);

  for (const number of [1, 3]) {
    const products = await page(number);
    const lines = products.map((p) => (p === null ? '(none)' : `${p.name} ${p.price.toFixed(2)}`));
    console.log(`page ${number}: ${lines.join(', ')}`);
  }

  await updatePrices([
    ['product:1', { name: 'kettle', price: 4.5 }],
    ['product:2', { name: 'teapot', price: 7 }],
  ]);
  console.log(
    'page 1 now:',
    (await page(1)).map((p) => p?.price),
  );
} catch (error) {
  if (!(error instanceof ConnectionError)) throw error;
  console.error(`Is the cluster running? ${error.message}`);
  process.exitCode = 1;
} finally {
  await kv.close();
}
