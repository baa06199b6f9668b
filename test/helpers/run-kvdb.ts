import { spawn } from 'node:child_process';
import { SHELL_BIN } from './cluster.js';

export interface KvdbRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the kvdb binary with `args`, feeding `input` on a pipe (not a terminal), and waits for it to exit; a run
 * still going after `timeoutMs` is interrupted, then killed, and fails the test.
 */
export function runKvdb(args: string[], input = '', timeoutMs = 15_000): Promise<KvdbRun> {
  return runNodeScript(SHELL_BIN, args, input, timeoutMs);
}

/** `runKvdb` for any Node script: `node <script> <args…>`, with `env` added to this process's environment. */
export function runNodeScript(
  script: string,
  args: string[],
  input = '',
  timeoutMs = 15_000,
  env: Record<string, string> = {},
): Promise<KvdbRun> {
  return runCommand(process.execPath, [script, ...args], {
    input,
    timeoutMs,
    env: { ...process.env, ...env },
  });
}

export interface RunOptions {
  /** What the command reads on its standard input (a pipe). @default '' */
  input?: string;
  /** How long it may run before it is interrupted and the run fails. @default 15_000 */
  timeoutMs?: number;
  /** Its whole environment. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Its working directory. @default process.cwd() */
  cwd?: string;
}

/** Runs `command` to its end and collects its output; one still going after `timeoutMs` is stopped and rejected. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<KvdbRun> {
  const { input = '', timeoutMs = 15_000, env = process.env, cwd } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      // SIGINT first, so that a script stops the processes it started; SIGKILL if it does not exit.
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      reject(
        new Error(
          `${[command, ...args].join(' ')} did not exit within ${timeoutMs} ms; stdout so far:\n${stdout}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
