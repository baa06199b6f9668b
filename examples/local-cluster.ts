/**
 * `npm start`: a local kvdb cluster on 127.0.0.1, in memory, until Ctrl-C. Each node's log lines are prefixed with
 * its port. Flags: --nodes N (3), --port P (first port, 5878), --replicas R (3).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: '5878' },
    replicas: { type: 'string', default: '3' },
  },
});
const count = Number(values.nodes);
const firstPort = Number(values.port);
const serverBin = fileURLToPath(new URL('../../packages/server/bin/kvdb-server.js', import.meta.url));
const ports = Array.from({ length: count }, (_, i) => firstPort + i);
const members = ports.map((port) => `127.0.0.1:${port}`).join(',');

const children: ChildProcess[] = ports.map((port) => {
  const child = spawn(
    process.execPath,
    [serverBin, '-H', '127.0.0.1', '-P', String(port), '-C', members, '-R', String(values.replicas)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const prefix = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) if (line !== '') console.log(`[${port}] ${line}`);
  };
  child.stdout?.on('data', prefix);
  child.stderr?.on('data', prefix);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[${port}] exited (${signal ?? code}); stopping the cluster`);
      stop(1);
    }
  });
  return child;
});

console.log(`kvdb: ${count} nodes on 127.0.0.1:${ports[0]}-${ports.at(-1)}, replicas ${values.replicas}.`);
console.log(`Try: npx kvdb -P ${ports[0]}   (Ctrl-C here stops the cluster)`);

let stopping = false;
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  let left = children.length;
  for (const child of children) {
    if (child.exitCode !== null) left--;
    else {
      child.once('exit', () => --left === 0 && process.exit(code));
      child.kill('SIGTERM');
    }
  }
  if (left === 0) process.exit(code);
  setTimeout(() => process.exit(code), 5_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
