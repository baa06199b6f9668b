import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { formatError } from './format.js';
import { type ShellClient, ShellSession, type ShellSessionInit } from './session.js';

export const PROMPT = '>> ';

export interface RunShellOptions extends ShellSessionInit {
  client: ShellClient;
  input: Readable;
  output: Writable;
  /**
   * A person is typing: show prompts and let readline edit lines. Off, the input is a script and the output
   * holds only results.
   * @default false
   */
  terminal?: boolean;
}

/**
 * Reads commands line by line and prints what each gives, one at a time and in order: a line waits for the one
 * before it, however fast a pipe delivers them. A failing line prints an `(error) …` line and the next runs.
 * Resolves at the end of input or on `exit`; never rejects.
 */
export async function runShell(options: RunShellOptions): Promise<void> {
  const { input, output } = options;
  const terminal = options.terminal ?? false;
  const session = new ShellSession({ client: options.client }, options);
  const lines = createInterface({ input, output: terminal ? output : undefined, terminal, prompt: PROMPT });
  const print = (text: string): void => {
    if (text !== '') output.write(`${text}\n`);
  };
  let exited = false;
  // Ctrl-C drops a half-typed line; on an empty one it leaves, as Ctrl-D does.
  lines.on('SIGINT', () => {
    if (lines.line === '') return lines.close();
    output.write('^C\n');
    lines.write(null, { ctrl: true, name: 'e' });
    lines.write(null, { ctrl: true, name: 'u' });
    lines.prompt();
  });
  try {
    if (terminal) lines.prompt();
    for await (const line of lines) {
      const outcome = await session.runLine(line);
      print(outcome.text);
      if (outcome.exit) {
        exited = true;
        break;
      }
      if (terminal) lines.prompt();
    }
    // Ctrl-D leaves the cursor after the prompt.
    if (terminal && !exited) output.write('\n');
  } catch (error) {
    print(formatError(error));
  } finally {
    lines.close();
  }
}
