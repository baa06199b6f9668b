import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEFAULT_HOST, UnavailableError } from '@kvdb/core';

/** A node process the benchmark started and must stop: a reference server or a kvdb-server. */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** The last lines it wrote, to explain a failure. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects if the process exits or time runs out. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Every child started and not yet exited, so that a deadline or a signal can stop them all. */
const live = new Set<Child>();

/** Stops every child process this process started that is still running. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop()));
}

export function spawnNode(name: string, script: string | URL, args: readonly string[]): Child {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const listeners = new Set<(line: string) => void>();
  const onText = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-4_000);
    for (const line of text.split('\n')) for (const listener of listeners) listener(line);
  };
  child.stdout?.on('data', onText);
  child.stderr?.on('data', onText);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: Child = {
    name,
    process: child,
    output: () => tail.trim(),
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          listeners.delete(onLine);
          child.off('exit', onExit);
        };
        const onLine = (line: string) => {
          const match = pattern.exec(line);
          if (match) {
            done();
            resolve(match);
          }
        };
        const onExit = (code: number | null) => {
          done();
          reject(new UnavailableError(`${name} exited (code ${code}) before it was ready:\n${tail.trim()}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new UnavailableError(`${name} was not ready within ${timeoutMs} ms:\n${tail.trim()}`));
        }, timeoutMs);
        listeners.add(onLine);
        child.once('exit', onExit);
      });
    },
    async stop(graceMs = 3_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(handle);
  void exited.then(() => live.delete(handle));
  return handle;
}

/** The compiled reference server, beside this file in dist. */
export const REFERENCE_SERVER_SCRIPT = new URL('./reference-server.js', import.meta.url);

/** Starts the reference server in its own process on a free port (or `port`), so it has its own event loop. */
export async function spawnReferenceServer(
  port = 0,
  host = DEFAULT_HOST,
): Promise<{ child: Child; host: string; port: number }> {
  const child = spawnNode('reference server', REFERENCE_SERVER_SCRIPT, [
    '--host',
    host,
    '--port',
    String(port),
  ]);
  try {
    const match = await child.waitFor(/listening on (.+):(\d+)\s*$/, 10_000);
    return { child, host: match[1] ?? host, port: Number(match[2]) };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
