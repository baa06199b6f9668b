import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** Installs Debian's tmux when it is missing (apt-get, as root) and prints its path (from test/dist/helpers). */
const ENSURE_TMUX = fileURLToPath(new URL('../../../scripts/ensure-tmux.sh', import.meta.url));

let tmuxPath: Promise<string> | undefined;

/** What the pane prints, with the exit status after it, once the program has ended. */
const EXIT_MARK = '[kvdb test: exited with status ';
let sockets = 0;

function tmux(): Promise<string> {
  tmuxPath ??= run('bash', [ENSURE_TMUX], { timeout: 300_000 }).then(({ stdout }) => stdout.trim());
  return tmuxPath;
}

/** Quotes a word for sh, where tmux runs a pane's command. */
const shellWord = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * A program running in a real terminal: a tmux pane on a server of its own (`-L`, a socket unique to this test
 * run), 200 columns wide. The pane stays after the program exits, so its last screen and exit status can be read.
 */
export class Terminal {
  private constructor(
    private readonly tmuxBin: string,
    private readonly socket: string,
  ) {}

  /** Starts `command` (argv) with `env` added to this process's environment, in a fresh pane. */
  static async start(command: readonly string[], env: Record<string, string> = {}): Promise<Terminal> {
    const bin = await tmux();
    const socket = `kvdb-test-${process.pid}-${++sockets}`;
    const terminal = new Terminal(bin, socket);
    // The pane's shell prints the program's exit status when it ends: tmux's own pane_dead_status can stay empty.
    const line = `${command.map(shellWord).join(' ')}; echo "${EXIT_MARK}$?"`;
    await terminal.tmux(
      ['new-session', '-d', '-s', 'shell', '-x', '200', '-y', '50', line],
      ['set-option', '-t', 'shell', 'remain-on-exit', 'on'],
      { ...process.env, ...env, TERM: 'xterm' },
    );
    return terminal;
  }

  /** Types `text` as it is, then each of `keys` (tmux key names: Enter, Tab, C-c, Up). */
  async type(text: string, ...keys: string[]): Promise<void> {
    if (text !== '') await this.tmux(['send-keys', '-t', 'shell', '-l', text]);
    for (const key of keys) await this.tmux(['send-keys', '-t', 'shell', key]);
  }

  /**
   * Types `line` and Enter at the shell's `>> ` prompt, waits for the next prompt, and gives what the line printed
   * in between (so that lines typed one after another never interleave with the answers on the screen).
   */
  async enter(line: string, timeoutMs = 10_000): Promise<string> {
    const echo = `>> ${line}\n`;
    const before = (await this.screen()).split(echo).length;
    await this.type(line, 'Enter');
    const screen = await this.waitFor(
      (text) => text.split(echo).length > before && text.endsWith('\n>>'),
      timeoutMs,
    );
    return screen.slice(screen.lastIndexOf(echo) + echo.length, -'\n>>'.length);
  }

  /**
   * What the pane shows, its scrollback included, lines with trailing spaces trimmed (so a prompt's last space is
   * not there).
   */
  async screen(): Promise<string> {
    const { stdout } = await run(this.tmuxBin, [
      '-L',
      this.socket,
      'capture-pane',
      '-p',
      '-J',
      '-t',
      'shell',
      '-S',
      '-500',
    ]);
    return stdout.replace(/[ \t]+$/gm, '').trimEnd();
  }

  /** Polls the screen until `test` holds, failing with the screen after `timeoutMs`. */
  async waitFor(test: RegExp | ((screen: string) => boolean), timeoutMs = 10_000): Promise<string> {
    const check = typeof test === 'function' ? test : (screen: string) => test.test(screen);
    let last = '';
    try {
      await waitFor(
        `the terminal to show ${String(test)}`,
        async () => {
          last = await this.screen();
          return check(last);
        },
        { timeoutMs, intervalMs: 50 },
      );
    } catch {
      throw new Error(`the terminal did not show ${String(test)} within ${timeoutMs} ms; it shows:\n${last}`);
    }
    return last;
  }

  /** Waits for the program to exit, and gives its exit status. */
  async exited(timeoutMs = 10_000): Promise<number> {
    const screen = await this.waitFor((text) => text.includes(EXIT_MARK), timeoutMs);
    return Number(screen.slice(screen.lastIndexOf(EXIT_MARK) + EXIT_MARK.length).split('\n')[0]);
  }

  /** Ends the tmux server, and with it the program (SIGHUP). */
  async kill(): Promise<void> {
    await run(this.tmuxBin, ['-L', this.socket, 'kill-server']).catch(() => {});
  }

  private async tmux(command: string[], then?: string[], env?: NodeJS.ProcessEnv): Promise<void> {
    const args = ['-L', this.socket, '-f', '/dev/null', ...command, ...(then ? [';', ...then] : [])];
    await run(this.tmuxBin, args, { env: env ?? process.env, timeout: 10_000 });
  }
}
