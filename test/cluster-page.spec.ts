import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_INSTALL_TIMEOUT_MS, launchChromium, pngSize } from './helpers/browser.js';
import { clusterPerTest, type TestCluster } from './helpers/cluster.js';
import { waitFor } from './helpers/wait.js';

/** Waits for the page to show something: it updates once a second, later on a loaded machine. */
function shows<T>(what: string, check: () => Promise<T | undefined | false>): Promise<T> {
  return waitFor(what, check, { timeoutMs: 20_000, intervalMs: 100 });
}

/** What the members table shows of each member, by address. */
interface Row {
  status: string;
  share: string;
  keys: string;
  rate: string;
}

async function rows(page: Page): Promise<Map<string, Row>> {
  const cells = await page.$$eval('#members tbody tr', (trs) =>
    trs.map((tr) => {
      const text = (name: string) => tr.querySelector(`td.${name}`)?.textContent ?? '';
      return [
        tr.getAttribute('data-address') ?? '',
        text('status'),
        text('share'),
        text('keys'),
        text('rate'),
      ];
    }),
  );
  return new Map(
    cells.map(([address, status, share, keys, rate]) => [address, { status, share, keys, rate }]),
  );
}

/** Each ring group's member and share, and whether it drew its token arcs and its share arc. */
async function ringGroups(page: Page): Promise<Array<{ address: string; share: number; drawn: boolean }>> {
  return page.$$eval('#ring g.ring-member', (groups) =>
    groups.map((group) => ({
      address: group.getAttribute('data-address') ?? '',
      share: Number(group.getAttribute('data-share')),
      drawn:
        (group.querySelector('path.token-arcs')?.getAttribute('d') ?? '').startsWith('M') &&
        (group.querySelector('path.share-arc')?.getAttribute('d') ?? '').startsWith('M'),
    })),
  );
}

describe('the cluster page in headless Chromium (3 real nodes)', function () {
  this.timeout(90_000);
  const start = clusterPerTest();
  let browser: Browser;
  let page: Page;
  /** Console errors and uncaught exceptions of the page: a refused script or style (the CSP) shows up here. */
  let problems: string[];

  before(async function () {
    this.timeout(CHROMIUM_INSTALL_TIMEOUT_MS + 30_000);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    problems = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });

  afterEach(async function () {
    await page.close();
    if (this.currentTest?.state === 'passed') expect(problems, 'console errors').to.deep.equal([]);
  });

  const open = async (cluster: TestCluster, index = 0, path = '/') => {
    const response = await page.goto(`http://127.0.0.1:${cluster.node(index).port}${path}`);
    expect(response?.status()).to.equal(200);
    expect(response?.headers()['content-security-policy']).to.include("script-src 'self'");
  };

  it('lists every member with its state, draws one arc group per member whose shares add up to 100%, and shows keys per node', async () => {
    const cluster = await start({ size: 3, replicas: 2 });
    const clients = cluster.nodes.map((_, index) => cluster.client(index));
    for (let i = 0; i < 60; i++) await clients[i % 3]?.set(`key:${i}`, i);
    await open(cluster);

    const shown = await shows('every member listed alive', async () => {
      const table = await rows(page);
      return cluster.addresses.every((a) => table.get(a)?.status === 'alive') && table;
    });
    expect([...shown.keys()].sort()).to.deep.equal([...cluster.addresses].sort());

    const groups = await ringGroups(page);
    expect(groups.map((group) => group.address).sort()).to.deep.equal([...cluster.addresses].sort());
    expect(groups.every((group) => group.drawn && group.share > 0.1)).to.equal(true);
    expect(groups.reduce((sum, group) => sum + group.share, 0)).to.be.closeTo(1, 1e-4);
    const status = await clients[0]?.clusterStatus();
    for (const member of status?.members ?? []) {
      expect(shown.get(member.address)?.share).to.equal(`${(member.share * 100).toFixed(1)}%`);
    }

    // Keys per node as each node counts them; 60 keys at R=2 are 120 copies.
    const counts = await Promise.all(clients.map(async (client) => (await client.stats()).keys));
    expect(counts.reduce((sum, n) => sum + n, 0)).to.equal(120);
    await shows('keys per node as each node counts them', async () => {
      const table = await rows(page);
      return cluster.addresses.every((address, index) => table.get(address)?.keys === String(counts[index]));
    });
    // The rate needs two readings; the page's own polling is a request a second on the node that served it.
    await shows('a request rate for the node that served the page', async () => {
      const rate = (await rows(page)).get(cluster.addresses[0] as string)?.rate;
      return rate !== undefined && Number(rate) > 0;
    });

    const dir = await mkdtemp(join(tmpdir(), 'kvdb-page-screenshot-'));
    const file = join(dir, 'cluster-page.png');
    await page.screenshot({ path: file, fullPage: true });
    const shot = await readFile(file);
    const size = pngSize(shot);
    expect(size, 'a PNG').to.not.equal(undefined);
    expect(shot.length).to.be.above(20_000);
    const ring = page.locator('#ring');
    expect(await ring.isVisible()).to.equal(true);
    const box = await ring.boundingBox();
    expect(box?.width).to.be.above(200);
    expect(box?.height).to.be.above(200);
    expect((box?.x ?? 0) + (box?.width ?? 0)).to.be.at.most(size?.width ?? 0);
    expect((box?.y ?? 0) + (box?.height ?? 0)).to.be.at.most(size?.height ?? 0);
    // The ring's own pixels: a drawn ring of hundreds of coloured arcs, not an empty box, compresses poorly.
    const ringShot = await ring.screenshot({ path: join(dir, 'ring.png') });
    expect(pngSize(ringShot)?.width).to.be.above(200);
    expect(ringShot.length).to.be.above(10_000);
    process.stdout.write(`      screenshot of the cluster page: ${file}\n`);
  });

  it('looks a key up at /ui: its replicas are the ones locate gives, highlighted in the table and on the ring', async () => {
    const cluster = await start({ size: 3, replicas: 2 });
    await open(cluster, 1, '/ui');
    await page.locator('#members tbody tr').nth(2).waitFor();
    for (const key of ['user:42', 'orders/2024', 'ключ']) {
      const expected = await cluster.client(0).locate(key);
      expect(expected).to.have.length(2);
      await page.fill('#lookup-key', key);
      await page.click('#lookup button');
      const shown = await shows(`the replicas of ${key}`, async () => {
        const items = await page.$$eval('#replicas li', (lis) =>
          lis.map((li) => li.getAttribute('data-address')),
        );
        return items.length === expected.length && items.join() === expected.join() && items;
      });
      expect(shown).to.deep.equal(expected);
      const marked = await page.$$eval('#ring g.ring-member.highlighted', (groups) =>
        groups.map((group) => group.getAttribute('data-address')),
      );
      expect(marked.sort()).to.deep.equal([...expected].sort());
      const rowsMarked = await page.$$eval('#members tr.highlighted', (trs) =>
        trs.map((tr) => tr.getAttribute('data-address')),
      );
      expect(rowsMarked.sort()).to.deep.equal([...expected].sort());
    }
    // A key the node refuses: its error, and no replicas.
    await page.fill('#lookup-key', 'x'.repeat(2_000));
    await page.click('#lookup button');
    await page.locator('#lookup-error').waitFor({ state: 'visible' });
    expect(await page.locator('#lookup-error').textContent()).to.match(/key/i);
    expect(await page.locator('#replicas li').count()).to.equal(0);
  });

  it('shows, live, a node that was killed as not alive, and the event', async () => {
    const cluster = await start({ size: 3, replicas: 3 });
    await open(cluster);
    const victim = cluster.node(2).address;
    await shows('the victim listed alive', async () => (await rows(page)).get(victim)?.status === 'alive');
    const before = await page.locator('body').getAttribute('data-updated');
    await cluster.signal(2, 'SIGKILL');
    const status = await waitFor(
      'the page to show the killed node not alive',
      async () => {
        const shown = (await rows(page)).get(victim);
        return shown !== undefined && shown.status !== 'alive' && shown;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(['suspect', 'dead']).to.include(status.status);
    expect(status.keys).to.equal('—');
    expect(await page.locator('body').getAttribute('data-updated')).to.not.equal(before);
    const events = await page.locator('#events li').allTextContents();
    expect(events.some((line) => line.includes(victim) && /suspect|dead/.test(line))).to.equal(true);
    const group = page.locator(`#ring g.ring-member[data-address="${victim}"]`);
    expect(await group.getAttribute('class')).to.match(/status-(suspect|dead)/);
  });

  it('asks for the token of a node that has one, refuses a wrong one, then works and remembers it in the tab', async () => {
    const cluster = await start({
      size: 3,
      replicas: 2,
      args: ['--auth-token', 'page-secret'],
      authToken: 'page-secret',
    });
    await open(cluster);
    await page.locator('#token-form').waitFor({ state: 'visible' });
    expect(await page.locator('#dashboard').isHidden()).to.equal(true);

    await page.fill('#token', 'not-the-token');
    await page.click('#token-form button');
    await page.locator('#token-error').waitFor({ state: 'visible' });
    expect(await page.locator('#token-error').textContent()).to.include('refused');
    expect(await page.locator('#dashboard').isHidden()).to.equal(true);

    await page.fill('#token', 'page-secret');
    await page.click('#token-form button');
    await shows('every member listed', async () => (await rows(page)).size === 3);
    expect(await page.locator('#token-form').isHidden()).to.equal(true);
    expect(await page.evaluate('sessionStorage.getItem("kvdb-token")')).to.equal('page-secret');

    await page.reload();
    await shows(
      'every member listed after a reload, without asking',
      async () => (await rows(page)).size === 3,
    );
    expect(await page.locator('#token-form').isHidden()).to.equal(true);
    // A 401 (the token refused) is expected in the console of the wrong try; it is the only kind of error.
    problems = problems.filter((line) => !line.includes('401'));
  });
});
