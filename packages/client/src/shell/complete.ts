/** Tab completion at the prompt: command names first, then keys after a command that takes one. */
import { COMMANDS } from './commands.js';
import type { ShellSession } from './session.js';

/** Commands whose first argument is a key. */
const KEY_COMMANDS = new Set(['get', 'pop', 'has', 'ttl', 'locate', 'set', 'cas', 'mget']);

/** Most keys a completion takes from the node; a prefix with more lists these and `MORE`. */
export const COMPLETION_MAX_KEYS = 1_000;

/** Most pages a completion asks for (a cluster's page may be short, even empty, and not the last). */
const COMPLETION_MAX_PAGES = 100;

/** How long a completion waits for the node's keys before it offers those it has, and the keys already seen. */
export const COMPLETION_WAIT_MS = 500;

/** Listed after the keys when the node holds more under the prefix than a completion took: type more of the key. */
export const MORE = '(more…)';

const NAMES = COMMANDS.flatMap((command) => [command.name, ...command.aliases]).sort();

export type Completion = [candidates: string[], partial: string];

/**
 * What `Tab` offers for `line` (the text before the cursor): commands for the first word; for the key of get, pop
 * and the like, the keys under the typed prefix, sorted: those this session has seen, and the node's (a listing
 * of that prefix, up to COMPLETION_MAX_KEYS of them and within COMPLETION_WAIT_MS). When the node has more, or did
 * not finish in time, the keys it gave are followed by `MORE`, so that Tab never extends the word past what every
 * key under it shares. Never rejects.
 */
export async function complete(session: ShellSession, line: string): Promise<Completion> {
  const words = line.trimStart().split(/\s+/);
  if (words.length === 1) {
    const partial = words[0]?.toLowerCase() ?? '';
    return [NAMES.filter((name) => name.startsWith(partial)), words[0] ?? ''];
  }
  const command = words[0]?.toLowerCase() ?? '';
  const partial = words.at(-1) ?? '';
  if (!KEY_COMMANDS.has(command) || (words.length > 2 && command !== 'mget') || /["'{[]/.test(partial)) {
    return [[], partial];
  }
  const fits = (key: string) => key.startsWith(partial) && !/\s/.test(key);
  const listed = await nodeKeys(session, partial);
  const keys = [...new Set([...session.seenKeys, ...listed.keys].filter(fits))].sort();
  const cut = !listed.complete && listed.keys.some(fits);
  return [cut ? [...keys, '', MORE] : keys, partial];
}

/** The node's keys under `prefix`, page after page, and whether they are all of them. */
async function nodeKeys(
  session: ShellSession,
  prefix: string,
): Promise<{ keys: string[]; complete: boolean }> {
  const keys: string[] = [];
  const stop = new AbortController();
  const late = new Promise<false>((resolve) => {
    stop.signal.addEventListener('abort', () => resolve(false), { once: true });
  });
  const timer = setTimeout(() => stop.abort(), COMPLETION_WAIT_MS);
  const listAll = async (): Promise<boolean> => {
    let cursor: string | undefined;
    for (let page = 0; page < COMPLETION_MAX_PAGES && keys.length <= COMPLETION_MAX_KEYS; page++) {
      const limit = COMPLETION_MAX_KEYS + 1 - keys.length;
      const options = { limit, cursor, signal: stop.signal, ...(prefix !== '' && { prefix }) };
      const result = await session.client.listKeysPage(options);
      if (stop.signal.aborted) return false;
      keys.push(...result.keys);
      if (result.cursor === null) return keys.length <= COMPLETION_MAX_KEYS;
      cursor = result.cursor;
    }
    return false;
  };
  try {
    const complete = await Promise.race([listAll().catch(() => false), late]);
    return { keys: keys.slice(0, COMPLETION_MAX_KEYS), complete };
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
}
