import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `ip` with `args`; rejects with its stderr. */
async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/**
 * Several "machines" on one host: a network namespace each, joined by veth pairs to a bridge, each with its own
 * address in a private test range (10.231.X.0/24, X from the process id so runs side by side do not collide).
 * The host side holds `.254` on the bridge, so the test reaches every machine as a client would. Needs root
 * and iproute2; `NetnsLab.unavailable()` says why not when it cannot run. `destroy()` removes every namespace
 * and link made and kills every process started in them.
 */
export class NetnsLab {
  readonly hostAddress: string;
  private readonly processes = new Set<ChildProcess>();

  private constructor(
    private readonly tag: string,
    private readonly subnet: string,
    readonly size: number,
  ) {
    this.hostAddress = `${subnet}.254`;
  }

  /** Why this host cannot make namespaces (not root, no `ip`, no netns support), or undefined when it can. */
  static async unavailable(): Promise<string | undefined> {
    if (process.platform !== 'linux') return `network namespaces need Linux, not ${process.platform}`;
    if (process.getuid?.() !== 0) return 'network namespaces need root (run the tests as root)';
    const probe = `kvdb-probe-${process.pid}`;
    try {
      await ip('netns', 'add', probe);
      await ip('netns', 'delete', probe);
      return undefined;
    } catch (error) {
      return `cannot make a network namespace: ${(error as Error).message.trim()}`;
    }
  }

  static async create(size: number): Promise<NetnsLab> {
    const tag = String(process.pid % 100_000);
    const lab = new NetnsLab(tag, `10.231.${process.pid % 250}`, size);
    try {
      await ip('link', 'add', lab.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${lab.hostAddress}/24`, 'dev', lab.bridge);
      await ip('link', 'set', lab.bridge, 'up');
      for (let i = 0; i < size; i++) {
        const ns = lab.namespace(i);
        await ip('netns', 'add', ns);
        await ip('link', 'add', lab.hostLink(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        await ip('link', 'set', lab.hostLink(i), 'master', lab.bridge, 'up');
        await ip('-n', ns, 'addr', 'add', `${lab.address(i)}/24`, 'dev', 'eth0');
        await ip('-n', ns, 'link', 'set', 'eth0', 'up');
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
      }
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  private get bridge(): string {
    return `kvb${this.tag}`;
  }

  namespace(i: number): string {
    return `kvdb-${this.tag}-${i}`;
  }

  /** The host end of machine `i`'s veth pair: taking it down cuts the machine off. */
  private hostLink(i: number): string {
    return `kvv${this.tag}-${i}`;
  }

  /** Machine `i`'s address. */
  address(i: number): string {
    return `${this.subnet}.${i + 1}`;
  }

  /** Starts `node <args…>` inside machine `i`; its output goes to `output`. */
  spawnNode(i: number, args: readonly string[], output: (chunk: Buffer) => void): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.namespace(i), process.execPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', output);
    child.stderr?.on('data', output);
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
    return child;
  }

  /** Takes machine `i`'s link down: no packet reaches it or leaves it. */
  async cut(i: number): Promise<void> {
    await ip('link', 'set', this.hostLink(i), 'down');
  }

  async restore(i: number): Promise<void> {
    await ip('link', 'set', this.hostLink(i), 'up');
  }

  async destroy(): Promise<void> {
    for (const child of this.processes) child.kill('SIGKILL');
    await Promise.all(
      [...this.processes].map((child) => new Promise((resolve) => child.once('exit', resolve))),
    );
    for (let i = 0; i < this.size; i++) {
      await ip('netns', 'delete', this.namespace(i)).catch(() => {});
      await ip('link', 'delete', this.hostLink(i)).catch(() => {});
    }
    await ip('link', 'delete', this.bridge).catch(() => {});
  }
}
