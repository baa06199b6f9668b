/**
 * The peer stream: how nodes carry JSON-RPC to each other. A node opens a TCP connection to a peer's HTTP port and
 * asks to switch protocols (`GET /peer`, `Upgrade: kvdb-peer/2`, its cluster's name in `kvdb-cluster`, its own address
 * in `kvdb-node`, the peer token as a bearer token if the cluster has one), and the answer names the peer's: nodes of two clusters refuse each other. After
 * `101 Switching Protocols` the connection carries frames both ways, each one JSON-RPC request or batch (or its
 * reply) on one line. JSON text never holds a raw newline, so a newline ends a frame. Frames are pipelined: many
 * can be out at once, and a peer answers each as soon as its calls are done, in any order (ids match replies to
 * calls). Compared with one HTTP request per batch this saves the request and response headers, their parsing,
 * and a connection-pool checkout per batch: the peer path is where a replicated write spends most of its time.
 */
export const PEER_PROTOCOL = 'kvdb-peer/2';
export const PEER_PATH = '/peer';
/** The header naming the dialling node's cluster (`--cluster-name`). */
export const PEER_CLUSTER_HEADER = 'kvdb-cluster';
/**
 * The header naming the dialling node's own address (`--advertise`), so that a peer refusing its stream names it in
 * its log: a claim, never checked, used for nothing else.
 */
export const PEER_NODE_HEADER = 'kvdb-node';

/** A cluster name (or another name a peer sent) as a message shows it: quoted, and cut short when it came from a peer. */
export function quotedCluster(name: string): string {
  return JSON.stringify(name.slice(0, 64));
}

/** Why a stream between nodes of two clusters is refused, from either side: `address` is in cluster `its`. */
export function otherCluster(address: string, its: string, not: string): string {
  return `${address} is in cluster ${quotedCluster(its)}, not ${quotedCluster(not)} (--cluster-name); nodes of two clusters do not talk to each other`;
}

const NEWLINE = 0x0a;

/**
 * Cuts a byte stream into newline-terminated frames and hands each one on, without its newline. A frame longer
 * than `maxBytes` stops the reader: `push` returns false and the connection should be closed.
 */
export class FrameReader {
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly onFrame: (frame: Buffer) => void,
  ) {}

  push(chunk: Buffer): boolean {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      let frame = chunk.subarray(start, end);
      if (this.partialBytes > 0) {
        this.partial.push(frame);
        frame = Buffer.concat(this.partial, this.partialBytes + frame.length);
        this.partial = [];
        this.partialBytes = 0;
      }
      if (frame.length > this.maxBytes) return false;
      start = end + 1;
      if (frame.length > 0) this.onFrame(frame);
    }
    if (start < chunk.length) {
      this.partial.push(chunk.subarray(start));
      this.partialBytes += chunk.length - start;
      if (this.partialBytes > this.maxBytes) return false;
    }
    return true;
  }
}
