/**
 * `npm start`: a local kvdb cluster on 127.0.0.1, in memory, until Ctrl-C. Each node's log lines are prefixed with
 * its port. Flags: --nodes N (3), --port P (first port, 5878), --replicas R (3). If a node exits, the rest are
 * stopped too.
 */
import { parseArgs } from 'node:util';
import { type LocalCluster, type LocalNode, startLocalCluster } from '@kvdb/server';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: '5878' },
    replicas: { type: 'string', default: '3' },
  },
});
const count = Number(values.nodes);
const firstPort = Number(values.port);
const ports = Array.from({ length: count }, (_, i) => firstPort + i);

const prefix = (node: LocalNode, chunk: Buffer): void => {
  for (const line of chunk.toString().split('\n')) if (line !== '') console.log(`[${node.port}] ${line}`);
};

let cluster: LocalCluster | undefined;
let stopping = false;
/** Stops the nodes gracefully; one still starting is killed as this process exits. */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await cluster?.stop(5_000);
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  cluster = await startLocalCluster({
    ports,
    replicas: Number(values.replicas),
    logLevel: 'info',
    // The nodes write to a pipe (JSON lines), which this script passes on: readable lines when that is a terminal.
    args: process.stdout.isTTY ? ['--log-format', 'pretty'] : [],
    output: prefix,
    onExit: (node, exit) => {
      if (stopping || cluster === undefined) return;
      console.error(`[${node.port}] exited (${exit.signal ?? exit.code}); stopping the cluster`);
      void stop(1);
    },
  });
} catch (error) {
  console.error(`kvdb: the cluster did not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

console.log(`kvdb: ${count} nodes on 127.0.0.1:${ports[0]}-${ports.at(-1)}, replicas ${values.replicas}.`);
console.log(`Try: npx kvdb -P ${ports[0]}   (Ctrl-C here stops the cluster)`);
