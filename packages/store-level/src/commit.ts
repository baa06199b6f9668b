/** One write to LevelDB. */
export type Operation = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

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
