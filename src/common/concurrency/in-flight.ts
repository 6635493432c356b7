/**
 * The work under way in this process per key, so a caller that finds a key busy can wait for exactly
 * that work to settle instead of polling on a timer.
 */
export class InFlight {
  private readonly byKey = new Map<string, Set<Promise<unknown>>>();

  /** Runs `work` as in flight for `key` until it settles; returns it unchanged. */
  track<T>(key: string, work: Promise<T>): Promise<T> {
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    const entry: Promise<unknown> = work.then(
      () => undefined,
      () => undefined,
    );
    set.add(entry);
    void entry.then(() => {
      set.delete(entry);
      if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
    });
    return work;
  }

  /**
   * Waits until the work in flight for `key` right now has settled. True when there was any (the
   * caller may look again), false when this process has none for the key.
   */
  async settled(key: string): Promise<boolean> {
    const set = this.byKey.get(key);
    if (!set || set.size === 0) return false;
    await Promise.all([...set]);
    return true;
  }
}
