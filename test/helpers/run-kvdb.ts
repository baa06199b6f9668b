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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
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
      reject(new Error(`${script} did not exit within ${timeoutMs} ms; stdout so far:\n${stdout}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
