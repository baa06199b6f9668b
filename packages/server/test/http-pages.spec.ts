import { silentLogger } from '@kvdb/coordinator';
import { ErrorCode } from '@kvdb/core';
import { expect } from 'chai';
import { HttpFrontEnd, type Page } from '../src/http-front-end.js';
import { JsonRpcDispatcher } from '../src/json-rpc.js';
import type { MethodContext } from '../src/methods/types.js';
import { freePort, post } from './utils/node-harness.js';

describe('the front end’s GET pages', () => {
  let front: HttpFrontEnd;
  let port: number;
  const page = (needsToken: boolean, body: string): Page => ({
    needsToken,
    serve: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(body);
    },
  });

  beforeEach(async () => {
    port = await freePort();
    const dispatcher = new JsonRpcDispatcher({
      methods: [],
      context: {} as MethodContext,
      logger: silentLogger,
    });
    const pages = new Map<string, Page>([
      ['/open', page(false, 'open')],
      ['/closed', page(true, 'closed')],
      [
        '/broken',
        {
          needsToken: false,
          serve: () => {
            throw new Error('broken page');
          },
        },
      ],
    ]);
    front = new HttpFrontEnd({ dispatcher, logger: silentLogger, pages }, { authToken: 'tok' });
    await front.listen(port, '127.0.0.1');
  });

  afterEach(async () => {
    const closed = front.close();
    front.closeAllConnections();
    await closed;
  });

  it('serves a page on GET and HEAD, its query string aside, and asks for the token only where the page does', async () => {
    const open = await post(port, '', {}, 'GET', '/open?x=1');
    expect([open.status, open.body]).to.deep.equal([200, 'open']);
    const head = await post(port, '', {}, 'HEAD', '/open');
    expect([head.status, head.body]).to.deep.equal([200, '']);
    const anonymous = await post(port, '', {}, 'GET', '/closed');
    expect(anonymous.status).to.equal(401);
    expect((anonymous.json as { error: { code: number } }).error.code).to.equal(ErrorCode.UNAUTHORIZED);
    const closed = await post(port, '', { authorization: 'Bearer tok' }, 'GET', '/closed');
    expect([closed.status, closed.body]).to.deep.equal([200, 'closed']);
  });

  it('answers 500 for a page that throws, 405 with Allow for a POST to a page, and 405 for GET where no page is', async () => {
    expect((await post(port, '', {}, 'GET', '/broken')).status).to.equal(500);
    const posted = await post(port, '{}', { authorization: 'Bearer tok' }, 'POST', '/open');
    expect(posted.status).to.equal(405);
    expect(posted.headers.allow).to.equal('GET, HEAD');
    expect((await post(port, '', {}, 'GET', '/nowhere')).status).to.equal(405);
  });
});
