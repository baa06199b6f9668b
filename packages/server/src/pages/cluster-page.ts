import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import type { Page } from '../http-front-end.js';

/** The page's files: `ui/` at the package's root (beside `dist/`), plain files that no build step touches. */
export const UI_DIR = new URL('../../../ui/', import.meta.url);

/** Each path of the cluster page, and the file it serves. `/` and `/ui` are the page; its files are under `/ui/`. */
const FILES: ReadonlyArray<[path: string, file: string]> = [
  ['/', 'index.html'],
  ['/ui', 'index.html'],
  ['/ui/app.js', 'app.js'],
  ['/ui/ring.js', 'ring.js'],
  ['/ui/style.css', 'style.css'],
];

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The page runs only its own files and talks only to the node that served it: no inline script or style, no other
 * origin, no framing, no plugins.
 */
export const CLUSTER_PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface StaticFile {
  body: Buffer;
  etag: string;
  type: string;
}

/** Files read once per process and kept: they are a few kilobytes, and they change only with the package. */
const cache = new Map<string, Promise<StaticFile>>();

function load(url: URL): Promise<StaticFile> {
  let file = cache.get(url.href);
  if (file === undefined) {
    file = readFile(url).then((body) => ({
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      type: TYPES[extname(url.pathname)] ?? 'application/octet-stream',
    }));
    // A failed read is tried again at the next request, not remembered.
    file.catch(() => cache.delete(url.href));
    cache.set(url.href, file);
  }
  return file;
}

async function serve(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { body, etag, type } = await load(url);
  res.setHeader('content-security-policy', CLUSTER_PAGE_POLICY);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  // Revalidated at each load (cheap: a 304), so a node upgraded in place never serves a stale page.
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('etag', etag);
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304).end();
    return;
  }
  res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
}

/** The cluster page's paths: static files any browser may fetch (its data comes through JSON-RPC, with the token). */
export function clusterPages(dir: URL = UI_DIR): Array<[string, Page]> {
  return FILES.map(([path, file]) => {
    const url = new URL(file, dir);
    return [path, { needsToken: false, serve: (req, res) => serve(url, req, res) }];
  });
}
