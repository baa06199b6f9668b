import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';

/** `pass` forwards bytes both ways; `cut` forwards nothing, like a link that drops every packet. */
export type LinkMode = 'pass' | 'cut';

/**
 * One connection through a proxy: the socket the dialing node opened (`down`) and the proxy's socket to the target
 * (`up`). While cut, neither side is read, so bytes wait in the kernel and the caller's request hangs until its own
 * timeout, as with dropped packets. On heal the held bytes flow again, late, as TCP would retransmit them; a
 * connection accepted while cut is connected to the target only then, and dropped if its dialer gave up meanwhile.
 */
class Link {
  private up: Socket | undefined;
  private frozen: boolean;
  private downClosed = false;
  private upClosed = false;
  private closed = false;

  constructor(
    private readonly down: Socket,
    private readonly targetPort: number,
    frozen: boolean,
    private readonly onClose: (link: Link) => void,
  ) {
    this.frozen = frozen;
    down.setNoDelay(true);
    down.on('error', () => {});
    down.on('close', () => {
      this.downClosed = true;
      this.propagate();
    });
    if (!frozen) this.connect();
  }

  /** Stops forwarding in both directions; bytes in flight stay where they are. */
  freeze(): void {
    if (this.closed) return;
    this.frozen = true;
    this.down.pause();
    this.up?.pause();
  }

  thaw(): void {
    if (this.closed || !this.frozen) return;
    this.frozen = false;
    if (this.up === undefined) {
      if (this.downClosed) this.finish();
      else this.connect();
      return;
    }
    this.down.resume();
    this.up.resume();
    this.propagate();
  }

  destroy(): void {
    this.down.destroy();
    this.up?.destroy();
    this.finish();
  }

  private connect(): void {
    const up = createConnection({ host: '127.0.0.1', port: this.targetPort });
    this.up = up;
    up.setNoDelay(true);
    up.on('error', () => {});
    up.on('close', () => {
      this.upClosed = true;
      this.propagate();
    });
    this.pipe(this.down, up);
    this.pipe(up, this.down);
  }

  /** Forwards `from` to `to` with backpressure; a drained link stays paused while frozen. */
  private pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!this.frozen) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  }

  /** A side that closed closes the other one too, once the link forwards again. */
  private propagate(): void {
    if (this.frozen || this.closed) return;
    if (this.up === undefined) {
      if (this.downClosed) this.finish();
      return;
    }
    if (this.downClosed) endSoon(this.up);
    if (this.upClosed) endSoon(this.down);
    if (this.downClosed && this.upClosed) this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }
}

/** Ends a socket (its queued bytes still go out), and destroys it if it is not closed a little later. */
function endSoon(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/**
 * A TCP proxy for one ordered pair of nodes: node `from` dials node `to` through it (`--route to=127.0.0.1:port`).
 * `cut()` freezes the link, `heal()` lets it flow again.
 */
export class FaultProxy {
  /** How many faults hold this link cut: it passes again when the last one heals. */
  private cuts = 0;
  private readonly links = new Set<Link>();
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(
    readonly from: string,
    readonly to: string,
    readonly targetPort: number,
    private readonly server: Server,
  ) {
    server.on('connection', (socket) => {
      this.accepted += 1;
      const link = new Link(socket, this.targetPort, this.cuts > 0, (done) => this.links.delete(done));
      this.links.add(link);
    });
  }

  /** Listens on a free 127.0.0.1 port, forwarding to `targetPort`. */
  static async start(from: string, to: string, targetPort: number): Promise<FaultProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new FaultProxy(from, to, targetPort, server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get state(): LinkMode {
    return this.cuts > 0 ? 'cut' : 'pass';
  }

  cut(): void {
    this.cuts += 1;
    for (const link of this.links) link.freeze();
  }

  /** Undoes one `cut()`; with `all`, every one. */
  heal({ all = false } = {}): void {
    this.cuts = all ? 0 : Math.max(0, this.cuts - 1);
    if (this.cuts === 0) for (const link of [...this.links]) link.thaw();
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) link.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Undoes the cuts of one fault, and only those: another fault may hold some of the same links. */
export type Heal = () => void;

/** A proxy between every ordered pair of nodes, so any set of links can be cut. */
export class ProxyMesh {
  private constructor(private readonly proxies: Map<string, FaultProxy>) {}

  /** Starts a proxy for each ordered pair of `nodes` (address and the port it listens on). */
  static async start(nodes: ReadonlyArray<{ address: string; port: number }>): Promise<ProxyMesh> {
    const proxies = new Map<string, FaultProxy>();
    try {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from === to) continue;
          proxies.set(
            pairKey(from.address, to.address),
            await FaultProxy.start(from.address, to.address, to.port),
          );
        }
      }
    } catch (error) {
      await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
      throw error;
    }
    return new ProxyMesh(proxies);
  }

  proxy(from: string, to: string): FaultProxy {
    const proxy = this.proxies.get(pairKey(from, to));
    if (proxy === undefined) throw new Error(`no proxy from ${from} to ${to}`);
    return proxy;
  }

  /** The `--route` flags node `from` starts with: every other member through its proxy. */
  routeArgs(from: string): string[] {
    const args: string[] = [];
    for (const proxy of this.proxies.values()) {
      if (proxy.from === from) args.push('--route', `${proxy.to}=127.0.0.1:${proxy.port}`);
    }
    return args;
  }

  /** Cuts every link between the two groups, both ways. */
  partition(groupA: readonly string[], groupB: readonly string[]): Heal {
    const cut: FaultProxy[] = [];
    for (const a of groupA) for (const b of groupB) cut.push(this.proxy(a, b), this.proxy(b, a));
    return this.cutAll(cut);
  }

  /** Cuts the links from `from` to each of `to`, one way only: they still reach `from`. */
  cutOneWay(from: string, to: readonly string[]): Heal {
    return this.cutAll(to.map((target) => this.proxy(from, target)));
  }

  /** Links currently cut, as `from>to`. */
  cutLinks(): string[] {
    return [...this.proxies.values()]
      .filter((proxy) => proxy.state === 'cut')
      .map((proxy) => `${proxy.from}>${proxy.to}`);
  }

  healAll(): void {
    for (const proxy of this.proxies.values()) proxy.heal({ all: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
  }

  private cutAll(proxies: readonly FaultProxy[]): Heal {
    for (const proxy of proxies) proxy.cut();
    let healed = false;
    return () => {
      if (healed) return;
      healed = true;
      for (const proxy of proxies) proxy.heal();
    };
  }
}

function pairKey(from: string, to: string): string {
  return `${from}>${to}`;
}
