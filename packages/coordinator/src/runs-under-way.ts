/**
 * Waits for every promise, then resolves with their values, or rejects with the first failure: `Promise.all`
 * without leaving work running behind a rejection, for writes that a stop must be able to wait for.
 */
export async function allSettledOrThrow<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/** Work under way, kept so that a node stopping can wait for it to end before it closes its store. */
export class RunsUnderWay {
  private readonly running = new Set<Promise<unknown>>();

  /** Counts `run` as under way until it settles; gives it back. */
  track<T>(run: Promise<T>): Promise<T> {
    this.running.add(run);
    const done = (): void => {
      this.running.delete(run);
    };
    run.then(done, done);
    return run;
  }

  /** Resolves once every run under way now has settled, whichever way. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
