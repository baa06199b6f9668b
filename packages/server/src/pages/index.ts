import type { Page } from '../http-front-end.js';
import type { KVNode } from '../node.js';
import { clusterPages } from './cluster-page.js';
import { healthPage, readyPage } from './health.js';
import { metricsPage } from './metrics.js';

/**
 * What a node answers to GET, by path: each page is built in a file of its own here and named in this table.
 * Which pages need the token is a documented choice (README, "Observability").
 */
export function nodePages(node: KVNode): Map<string, Page> {
  return new Map<string, Page>([
    ...clusterPages(),
    ['/health', healthPage(node)],
    ['/ready', readyPage(node)],
    ['/metrics', metricsPage(node.metrics)],
  ]);
}
