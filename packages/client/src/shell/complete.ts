/** Tab completion at the prompt: command names first, then keys after a command that takes one. */
import { COMMANDS } from './commands.js';
import type { ShellSession } from './session.js';

/** Commands whose first argument is a key. */
const KEY_COMMANDS = new Set(['get', 'pop', 'has', 'ttl', 'locate', 'set', 'cas', 'mget']);

/** Most keys asked of the node per completion. */
export const COMPLETION_PAGE = 50;

/** How long a completion waits for the node before it offers only the keys already seen. */
export const COMPLETION_WAIT_MS = 300;

const NAMES = COMMANDS.flatMap((command) => [command.name, ...command.aliases]).sort();

export type Completion = [candidates: string[], partial: string];

/**
 * What `Tab` offers for `line` (the text before the cursor): commands for the first word; for the key of
 * get, pop and the like, the keys this session has seen and a page of the node's keys with that prefix (if the node
 * answers within COMPLETION_WAIT_MS). Never rejects.
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
  const keys = new Set([...session.seenKeys].filter((key) => key.startsWith(partial) && !/\s/.test(key)));
  for (const key of await nodeKeys(session, partial)) if (!/\s/.test(key)) keys.add(key);
  return [[...keys].sort(), partial];
}

async function nodeKeys(session: ShellSession, prefix: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), COMPLETION_WAIT_MS);
  });
  const page = session.client
    .listKeysPage(prefix === '' ? { limit: COMPLETION_PAGE } : { prefix, limit: COMPLETION_PAGE })
    .then((result) => result.keys)
    .catch(() => []);
  try {
    return await Promise.race([page, late]);
  } finally {
    clearTimeout(timer);
  }
}
