/**
 * The shell's history file: the lines typed at the prompt, kept across runs like `~/.rediscli_history`. Failing to
 * read or write it never stops the shell: history is a convenience.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Most lines kept. */
export const HISTORY_SIZE = 1_000;

/** The variable that moves the history file; set to an empty string, it turns history off. */
export const HISTORY_ENV = 'KVDB_HISTORY_FILE';

/** Where history lives: `$KVDB_HISTORY_FILE`, none when that is empty, else `~/.kvdb_history`. */
export function historyFile(env: NodeJS.ProcessEnv = process.env, home = homedir()): string | undefined {
  const file = env[HISTORY_ENV];
  if (file !== undefined) return file === '' ? undefined : file;
  return home === '' ? undefined : join(home, '.kvdb_history');
}

/** The file's lines, newest first (as readline's `history` option takes them); none when it cannot be read. */
export function loadHistory(file: string, size = HISTORY_SIZE): string[] {
  try {
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');
    return lines.slice(-size).reverse();
  } catch {
    return [];
  }
}

/**
 * Writes `history` (newest first, as readline's `'history'` event gives it) oldest first, readable by the user
 * alone: a line may hold a value worth keeping private. Errors are ignored.
 */
export function saveHistory(file: string, history: readonly string[], size = HISTORY_SIZE): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const lines = history.slice(0, size).reverse();
    writeFileSync(file, lines.length === 0 ? '' : `${lines.join('\n')}\n`, { mode: 0o600 });
  } catch {}
}
