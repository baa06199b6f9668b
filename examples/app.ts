/**
 * A small app on KVClient: a page-view counter and user profiles kept in kvdb.
 * Run a cluster (`npm start`), then: node examples/dist/app.js [port]
 */
import { ConnectionError, KVClient, QuorumNotReachedError } from '@kvdb/client';

const kv = new KVClient({ host: '127.0.0.1', port: Number(process.argv[2] ?? 5878) });

async function countView(page: string): Promise<number> {
  const views = Number(await kv.get(`views:${page}`, 0)) + 1;
  await kv.set(`views:${page}`, views);
  return views;
}

try {
  for (const page of ['/', '/about', '/']) console.log(`${page} has ${await countView(page)} view(s)`);

  await kv.set('user:ada', { name: 'Ada Lovelace', languages: ['Analytical Engine'] });
  console.log('profile:', await kv.get('user:ada'));
  console.log('stored on:', (await kv.locate('user:ada')).join(', '));

  console.log('view counters:', await kv.listKeys({ prefix: 'views:' }));
  // Any number of keys, a page at a time: pass each page's cursor back until it is null.
  const page = await kv.listKeysPage({ limit: 2 });
  console.log(
    'first page of keys:',
    page.keys,
    page.cursor === null ? '(the last)' : `(next after ${page.cursor})`,
  );
  console.log('removed:', await kv.pop('user:ada'));
  console.log('still there?', await kv.has('user:ada'));

  // Reads at `one` answer from the first replica that replies: faster, possibly stale.
  console.log('views of / (one replica):', await kv.get('views:/', 0, { consistency: 'one' }));
} catch (error) {
  if (error instanceof ConnectionError) console.error(`Is the cluster running? ${error.message}`);
  else if (error instanceof QuorumNotReachedError) console.error(`Too many replicas down: ${error.message}`);
  else throw error;
  process.exitCode = 1;
} finally {
  await kv.close();
}
