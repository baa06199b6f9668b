/**
 * A `--workers` thread: runs its share of the request slots with its own event loop and connections, reports
 * progress, and posts its result with the histogram encoded (hdr-histogram's compressed form) for the main thread
 * to merge.
 *
 * Messages out: `ready` once its generator exists, `progress` every PROGRESS_INTERVAL_MS, then `result`.
 * Messages in: `go`, which starts the run, so that every worker starts at the same moment.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PROGRESS_INTERVAL_MS } from './constants.js';
import { LoadGenerator, type LoadPlan } from './load-generator.js';
import { encodeResult, type WorkerMessage } from './worker-messages.js';

const port = parentPort;
if (port === null) throw new Error('worker.js runs as a worker thread of kvdb-bench');
const post = (message: WorkerMessage) => port.postMessage(message);

const generator = new LoadGenerator((workerData as { plan: LoadPlan }).plan);
port.once('message', async () => {
  const timer = setInterval(() => post({ type: 'progress', ...generator.progress }), PROGRESS_INTERVAL_MS);
  try {
    post({ type: 'result', result: encodeResult(await generator.run()) });
  } finally {
    clearInterval(timer);
    await generator.close();
    port.close();
  }
});
post({ type: 'ready' });
