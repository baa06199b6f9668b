import type { ClassicLevel } from 'classic-level';

/** One write to LevelDB. */
export type Operation = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** Written by a flush that has no commit to ride with: LevelDB fsyncs its log only with a write. */
const FLUSHED = 'meta/flushed';

/** Writes committed together: one LevelDB write batch, and one promise for all of them. */
export class Commit {
  readonly operations: Operation[] = [];
  /** Record keys whose newest write is (or was, until a later commit took it) in this one. */
  readonly keys: string[] = [];
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A commit that fails is reported to each of its writers; this keeps it from also counting as unhandled.
    this.done.catch(() => {});
  }
}

/** What the owner of a `CommitQueue` hears of its commits. */
export interface CommitEvents {
  /** A commit is written, just before its writers hear so. */
  committed(commit: Commit): void;
  /** LevelDB failed a commit: the queue stops, and it and every commit waiting fail with the error returned. */
  failed(cause: Error): Error;
}

/**
 * Group commit: writes made while a commit is on its way wait and go together in the next LevelDB batch, one
 * append to its log for all of them. A commit resolves once its batch is in the OS (so it survives `kill -9`);
 * batches are fsynced at most `fsyncIntervalMs` after (see `DiskStoreOptions`), by the next commit or, when none
 * comes, by a flush of its own.
 */
export class CommitQueue {
  /** The commit taking writes, not yet started. */
  private next: Commit | undefined;
  /** The commit under way. */
  private writing: Commit | undefined;
  /** When commits since the last fsync exist, the timer of the flush that will cover them. */
  private flushTimer: NodeJS.Timeout | undefined;
  /** Whether the next commit is to be fsynced: the interval since the first unflushed commit has passed. */
  private flushDue = false;
  private stopped = false;
  private failed = false;

  constructor(
    private readonly db: ClassicLevel<string, string>,
    private readonly fsyncIntervalMs: number,
    private readonly events: CommitEvents,
  ) {}

  /** Adds writes to the next commit, which starts once the one under way (if any) is done; returns that commit. */
  add(...operations: Operation[]): Commit {
    let commit = this.next;
    if (commit === undefined) {
      commit = this.next = new Commit();
      if (this.writing === undefined) setImmediate(() => this.commit());
    }
    commit.operations.push(...operations);
    return commit;
  }

  /** Takes no more flushes of its own; resolves once the commits accepted are done, and what they wrote fsynced. */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([this.writing?.done, this.next?.done]);
    clearTimeout(this.flushTimer);
    if (this.flushTimer !== undefined && !this.failed) {
      await this.db.put(FLUSHED, String(Date.now()), { sync: true }).catch(() => {});
    }
  }

  private commit(): void {
    const commit = this.next;
    if (commit === undefined || this.writing !== undefined) return;
    this.next = undefined;
    this.writing = commit;
    const sync = this.fsyncIntervalMs === 0 || this.flushDue;
    if (sync) {
      this.flushDue = false;
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    } else {
      this.flushTimer ??= setTimeout(() => this.flush(), this.fsyncIntervalMs).unref();
    }
    this.db.batch(commit.operations, { sync }).then(
      () => {
        this.events.committed(commit);
        this.writing = undefined;
        commit.resolve();
        this.commit();
      },
      (error: unknown) => {
        this.failed = this.stopped = true;
        const failed = this.events.failed(error instanceof Error ? error : new Error(String(error)));
        this.writing = undefined;
        commit.reject(failed);
        this.next?.reject(failed);
        this.next = undefined;
      },
    );
  }

  /**
   * The interval since the first unflushed commit has passed: the next commit is fsynced (which covers those
   * before it in LevelDB's log), and if none is waiting, one of our own is made for it.
   */
  private flush(): void {
    this.flushTimer = undefined;
    if (this.stopped) return;
    this.flushDue = true;
    if (this.next === undefined) this.add({ type: 'put', key: FLUSHED, value: String(Date.now()) });
  }
}
