import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { complete } from './complete.js';
import { formatError } from './format.js';
import { HISTORY_SIZE, loadHistory, saveHistory } from './history.js';
import { errorDocument } from './output.js';
import {
  INTERRUPTED,
  type ShellClient,
  ShellSession,
  type ShellSessionComponents,
  type ShellSessionInit,
} from './session.js';

export const PROMPT = '>> ';

export interface RunShellOptions
  extends ShellSessionInit,
    Pick<ShellSessionComponents, 'connect' | 'reopen'> {
  client: ShellClient;
  input: Readable;
  output: Writable;
  /**
   * Where a script's failures go, each as `line N: (error) …`; at a terminal they go to `output`, unnumbered.
   * @default output
   */
  errors?: Writable;
  /**
   * A person is typing: show prompts, let readline edit lines, complete with Tab, ask before `leave`, and let Ctrl-C
   * cancel a command. Off, the input is a script and the output holds only results.
   * @default false
   */
  terminal?: boolean;
  /**
   * The file typed lines are kept in across runs, at a terminal (see `historyFile`).
   * @default undefined: no history is kept
   */
  historyFile?: string;
  /**
   * At a terminal, what to print before the first prompt. Ctrl-C while it runs aborts its `signal` (and the shell
   * goes on to the prompt), as it cancels a command.
   * @default undefined: no greeting
   */
  greeting?: (signal: AbortSignal) => Promise<string>;
}

/**
 * Reads commands line by line and prints what each gives, one at a time and in order: a line waits for the one
 * before it, however fast a pipe delivers them. A failing line prints an `(error) …` line and the next runs.
 * Resolves at the end of input or on `exit` with whether every line succeeded; never rejects. The client in use
 * at the end (`connect` changes it) is closed.
 */
export async function runShell(options: RunShellOptions): Promise<boolean> {
  const { input, output, historyFile } = options;
  const terminal = options.terminal ?? false;
  let running: AbortController | undefined;
  let asking = false;
  const confirm = terminal
    ? async (question: string) => {
        asking = true;
        try {
          return await ask(lines, question, running?.signal);
        } finally {
          asking = false;
        }
      }
    : undefined;
  const { client, connect, reopen } = options;
  const session = new ShellSession({ client, connect, reopen, confirm }, options);
  const lines = createInterface({
    input,
    output: terminal ? output : undefined,
    terminal,
    prompt: PROMPT,
    ...(terminal && {
      completer: (line: string, callback: (error: null, result: [string[], string]) => void) => {
        void complete(session, line).then((result) => callback(null, result));
      },
      history: historyFile === undefined ? [] : loadHistory(historyFile),
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
    }),
  });
  // readline adds a question's answer (`y` to leave's [y/N]) to the history too: it is no command, so it is taken out.
  lines.on('history', (history: string[]) => {
    if (asking) history.shift();
    else if (historyFile !== undefined) saveHistory(historyFile, history);
  });
  const print = (text: string, stream: Writable = output): void => {
    if (text !== '') stream.write(`${text}\n`);
  };
  let exited = false;
  let allOk = true;
  let lineNumber = 0;
  // Ctrl-C cancels the command in flight, or drops a half-typed line; on an empty one it leaves, as Ctrl-D does.
  lines.on('SIGINT', () => {
    if (running !== undefined) return running.abort();
    if (lines.line === '') return lines.close();
    output.write('^C\n');
    lines.write(null, { ctrl: true, name: 'e' });
    lines.write(null, { ctrl: true, name: 'u' });
    lines.prompt();
  });
  // Ctrl-D closes readline at once, even while the greeting or a command waits: prompting after that would resume
  // the input, and the shell would hang on a prompt that reads nothing. So the greeting stops, and no prompt comes.
  let closed = false;
  let greeting: AbortController | undefined;
  lines.on('close', () => {
    closed = true;
    greeting?.abort();
  });
  let prompted = false;
  const prompt = () => {
    prompted = terminal && !closed;
    if (prompted) lines.prompt();
  };
  // Lines typed while the greeting waits are read after it, not lost: the iterator queues them from here on.
  const typed = lines[Symbol.asyncIterator]();
  try {
    if (terminal && options.greeting !== undefined) {
      running = greeting = new AbortController();
      const text = await options.greeting(running.signal);
      running = greeting = undefined;
      if (!closed) print(text);
    }
    prompt();
    for await (const line of { [Symbol.asyncIterator]: () => typed }) {
      prompted = false;
      lineNumber++;
      running = new AbortController();
      const outcome = await session.runLine(line, running.signal);
      running = undefined;
      if (outcome.ok || terminal) print(outcome.text);
      else if (session.format === 'json' && outcome.error !== undefined) {
        // One document a line on stdout, failures included, for jq; the person reading stderr gets the line too.
        print(errorDocument(outcome.error, lineNumber));
        print(`line ${lineNumber}: ${formatError(outcome.error)}`, options.errors ?? output);
      } else print(`line ${lineNumber}: ${outcome.text}`, options.errors ?? output);
      if (!outcome.ok && outcome.text !== INTERRUPTED) allOk = false;
      if (outcome.exit) {
        exited = true;
        break;
      }
      prompt();
    }
    // Ctrl-D leaves the cursor after the prompt.
    if (prompted && !exited) output.write('\n');
  } catch (error) {
    print(formatError(error));
    allOk = false;
  } finally {
    lines.close();
    await session.close().catch(() => {});
  }
  return allOk;
}

/** Asks a yes/no question on the terminal; only `y` or `yes` is yes. Ctrl-C (`signal`) cancels it. */
function ask(lines: Interface, question: string, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const answer = (text: string) => resolve(/^\s*y(es)?\s*$/i.test(text));
    if (signal === undefined) lines.question(question, answer);
    else lines.question(question, { signal }, answer);
  });
}
