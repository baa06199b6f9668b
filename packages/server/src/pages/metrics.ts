import type { Page } from '../http-front-end.js';
import type { NodeMetrics } from '../node-metrics.js';

/** `GET /metrics`: Prometheus text format; asks for the token on a node that has one (Prometheus can send it). */
export function metricsPage(metrics: NodeMetrics): Page {
  return {
    needsToken: true,
    serve: async (_req, res) => {
      const text = await metrics.text();
      res.writeHead(200, {
        'content-type': metrics.contentType,
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      });
      res.end(text);
    },
  };
}
