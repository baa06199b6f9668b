import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { silentLogger } from '@kvdb/coordinator';
import { expect } from 'chai';
import { HttpFrontEnd, type Page } from '../src/http-front-end.js';
import { JsonRpcDispatcher } from '../src/json-rpc.js';
import type { MethodContext } from '../src/methods/types.js';
import { CLUSTER_PAGE_POLICY, clusterPages } from '../src/pages/cluster-page.js';
import { freePort, post } from './utils/node-harness.js';

describe('the cluster page’s files', () => {
  let front: HttpFrontEnd;
  let port: number;

  async function serve(pages: Array<[string, Page]>): Promise<void> {
    port = await freePort();
    const dispatcher = new JsonRpcDispatcher({
      methods: [],
      context: {} as MethodContext,
      logger: silentLogger,
    });
    front = new HttpFrontEnd(
      { dispatcher, logger: silentLogger, pages: new Map(pages) },
      { authToken: 'tok' },
    );
    await front.listen(port, '127.0.0.1');
  }

  afterEach(async () => {
    const closed = front.close();
    front.closeAllConnections();
    await closed;
  });

  const get = (path: string, headers: Record<string, string> = {}) => post(port, '', headers, 'GET', path);

  it('serves the page at / and /ui without the token, with a strict policy, no sniffing and revalidation', async () => {
    await serve(clusterPages());
    const root = await get('/');
    const ui = await get('/ui?refresh=1');
    expect(root.status).to.equal(200);
    expect(root.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(root.body).to.include('<svg id="ring"');
    expect(ui.body).to.equal(root.body);
    expect(root.headers['content-security-policy']).to.equal(CLUSTER_PAGE_POLICY);
    expect(CLUSTER_PAGE_POLICY).to.include("default-src 'none'").and.not.include('unsafe');
    expect(root.headers['x-content-type-options']).to.equal('nosniff');
    expect(root.headers['cache-control']).to.equal('no-cache');
    expect(Number(root.headers['content-length'])).to.equal(Buffer.byteLength(root.body));
  });

  it('serves every file the page names, relative to it, with its content type, and no other', async () => {
    await serve(clusterPages());
    const html = (await get('/')).body;
    const named = [...html.matchAll(/(?:src|href)="(ui\/[^"]+)"/g)].map((match) => `/${match[1]}`);
    const imports = [...(await get('/ui/app.js')).body.matchAll(/from '\.\/([^']+)'/g)].map(
      (m) => `/ui/${m[1]}`,
    );
    expect(named).to.include.members(['/ui/app.js', '/ui/style.css']);
    expect(imports).to.deep.equal(['/ui/ring.js']);
    const types: Record<string, string> = { js: 'text/javascript', css: 'text/css' };
    for (const path of [...named, ...imports]) {
      const file = await get(path);
      expect(file.status, path).to.equal(200);
      expect(file.headers['content-type'], path).to.equal(
        `${types[path.split('.').pop() ?? '']}; charset=utf-8`,
      );
    }
    // Absolute URLs would break behind TLS or a path prefix: the page names only relative ones.
    expect(html).to.not.match(/(?:src|href)="(?:\/|https?:)/);
    expect((await get('/ui/')).status).to.equal(405);
    expect((await get('/ui/../package.json')).status).to.equal(405);
  });

  it('answers 304 to a matching If-None-Match, and HEAD with the headers alone', async () => {
    await serve(clusterPages());
    const first = await get('/ui/app.js');
    const etag = first.headers.etag as string;
    expect(etag).to.match(/^"[\w-]+"$/);
    const again = await get('/ui/app.js', { 'if-none-match': etag });
    expect([again.status, again.body]).to.deep.equal([304, '']);
    expect((await get('/ui/app.js', { 'if-none-match': '"other"' })).status).to.equal(200);
    const head = await post(port, '', {}, 'HEAD', '/ui/style.css');
    expect([head.status, head.body, head.headers.etag !== undefined]).to.deep.equal([200, '', true]);
  });

  it('answers 500 when its files are missing, and serves them once they are there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvdb-ui-'));
    try {
      await serve(clusterPages(pathToFileURL(`${dir}/`)));
      expect((await get('/')).status).to.equal(500);
      await writeFile(join(dir, 'index.html'), '<!doctype html><title>kvdb</title>');
      const page = await get('/');
      expect([page.status, page.body]).to.deep.equal([200, '<!doctype html><title>kvdb</title>']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
