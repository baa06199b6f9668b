/**
 * A version is a hybrid logical clock timestamp plus the id of the node that wrote it. Versions totally order
 * the writes to one key: by wall time, then the logical counter, then node id. Every node advances its clock past
 * any version it sees (and past a client's session token), so a write that follows a read of a value through the
 * same node or the same session wins over it, even across skewed clocks.
 */
export interface Version {
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
}

export function compareVersions(a: Version, b: Version): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

export function isVersion(input: unknown): input is Version {
  if (typeof input !== 'object' || input === null) return false;
  const { wall, counter, node } = input as Record<string, unknown>;
  return (
    Number.isSafeInteger(wall) &&
    (wall as number) >= 0 &&
    Number.isSafeInteger(counter) &&
    (counter as number) >= 0 &&
    typeof node === 'string' &&
    node.length > 0
  );
}

export function formatVersion(version: Version): string {
  return `${version.wall}.${version.counter}@${version.node}`;
}

/** The hybrid logical clock of one node. `physicalNow` is injected so tests can drive time. */
export class HybridClock {
  private wall = 0;
  private counter = 0;

  constructor(
    readonly node: string,
    private readonly physicalNow: () => number,
  ) {}

  /** A timestamp greater than every one this clock issued or observed. */
  now(): Version {
    const physical = Math.floor(this.physicalNow());
    if (physical > this.wall) {
      this.wall = physical;
      this.counter = 0;
    } else {
      this.counter += 1;
    }
    return { wall: this.wall, counter: this.counter, node: this.node };
  }

  /** The latest timestamp this clock issued or observed, without issuing one. */
  reading(): Version {
    return { wall: this.wall, counter: this.counter, node: this.node };
  }

  /** Moves the clock past a version received from elsewhere, so the next `now()` is greater than it. */
  observe(version: Version): void {
    if (version.wall > this.wall || (version.wall === this.wall && version.counter > this.counter)) {
      this.wall = version.wall;
      this.counter = version.counter;
    }
  }
}

/**
 * A session token: `wall.counter` of a node's clock reading, as nodes send it in the `kvdb-session` HTTP header
 * of each reply. It is at least the version of everything that reply read or wrote; a client that sends back the
 * highest token it has received has each node move its clock past it first, so the client's next write is
 * stamped above every value it has read or written, whichever node coordinates it and however skewed the clocks.
 */
export function formatSession({ wall, counter }: Version): string {
  return `${wall}.${counter}`;
}

/**
 * The largest counter a stamp or a session token may carry. A node's clock takes a stamp's counter and counts on from it; near
 * `Number.MAX_SAFE_INTEGER` adding one stops changing the number, and the node would give two writes one version.
 * A counter only counts writes within one millisecond of its wall time, so 2^32 is far more than a client needs.
 */
export const MAX_STAMP_COUNTER = 2 ** 32 - 1;

/** The clock reading a session token names (with `node` empty), or undefined when it is not a token. */
export function parseSession(token: string): Version | undefined {
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(token);
  if (match === null) return undefined;
  const wall = Number(match[1]);
  const counter = Number(match[2]);
  // A node's clock takes the counter and counts on from it (see `MAX_STAMP_COUNTER`).
  return Number.isSafeInteger(wall) && counter <= MAX_STAMP_COUNTER ? { wall, counter, node: '' } : undefined;
}

/** The later of two session tokens (either may be undefined or malformed: the other wins). */
export function laterSession(a: string | undefined, b: string | undefined): string | undefined {
  const first = a === undefined ? undefined : parseSession(a);
  const second = b === undefined ? undefined : parseSession(b);
  if (first === undefined) return second === undefined ? undefined : b;
  if (second === undefined) return a;
  return compareVersions(second, first) > 0 ? b : a;
}

/**
 * A stamp's writer id: 1 to 64 letters, digits, `_`, `.`, `~` or `-`. Never a `:`, so never a member's address:
 * a client cannot give its write the version a node gave another.
 */
const STAMP = /^(\d{1,16})\.(\d{1,16})@([\w.~-]{1,64})$/;

/**
 * The version a write's `stamp` names (`set` and `mset` take one, as `formatVersion` writes it:
 * `wall.counter@writer`), or undefined when it is not one. A client stamps a write with its own hybrid clock's
 * reading and an id it picked for itself; sending the same stamp again (a write retried on another node after no
 * answer) writes the same record again, which every replica that holds it ignores, so a retried write is a no-op
 * where the first one landed. A client must never give one stamp to two different writes (KVClient's come from a
 * monotonic clock and a random id): replicas would each keep the one they got first.
 */
export function parseStamp(stamp: string): Version | undefined {
  const match = STAMP.exec(stamp);
  if (match === null) return undefined;
  const wall = Number(match[1]);
  const counter = Number(match[2]);
  const node = match[3] ?? '';
  return Number.isSafeInteger(wall) && counter <= MAX_STAMP_COUNTER ? { wall, counter, node } : undefined;
}
