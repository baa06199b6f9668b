/** The line the shell opens with at a terminal: who answered, or that no one did yet. */
import type { KVClient } from '../kv-client.js';
import { formatError } from './format.js';

/** Longest the greeting waits for the node (less when the client's deadline is shorter): the prompt comes anyway. */
export const GREETING_DEADLINE_MS = 2_000;

const HINT = 'Type help for the commands, exit or Ctrl-D to leave.';

/**
 * Asks the node for its stats and says which node and cluster answered. A node that does not answer within
 * GREETING_DEADLINE_MS, or a wait cut short by `signal` (Ctrl-C), gives a note saying so instead; the shell's
 * commands still go to it. Never rejects.
 */
export async function greeting(
  client: Pick<KVClient, 'stats' | 'address' | 'deadlineMs'>,
  signal: AbortSignal,
): Promise<string> {
  const deadlineMs = Math.min(GREETING_DEADLINE_MS, client.deadlineMs);
  try {
    const stats = await client.stats({ signal, deadlineMs });
    const members = stats.members === 1 ? '1 member' : `${stats.members} members`;
    return `Connected to kvdb ${stats.version} at ${stats.address} (${members}). ${HINT}`;
  } catch (error) {
    const what = signal.aborted
      ? `(interrupted) stopped waiting for ${client.address} to answer`
      : `${formatError(error)}\n${client.address} did not answer`;
    return `${what}: commands go to it all the same (Ctrl-C cancels one that waits).\n${HINT}`;
  }
}
