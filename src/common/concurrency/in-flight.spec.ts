import { InFlight } from './in-flight';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('InFlight', () => {
  it('has nothing to wait for on an idle key', async () => {
    expect(await new InFlight().settled('a')).toBe(false);
  });

  it('waits for the work of its key only, resolved or rejected, and forgets it afterwards', async () => {
    const inFlight = new InFlight();
    const one = deferred<number>();
    const two = deferred<number>();
    const other = deferred<number>();
    const tracked = inFlight.track('a', one.promise);
    void inFlight.track('a', two.promise).catch(() => undefined);
    void inFlight.track('b', other.promise);
    let done = false;
    const waiting = inFlight.settled('a').then((had) => ((done = true), had));
    one.resolve(1);
    await tracked;
    await Promise.resolve();
    expect(done).toBe(false);
    two.reject(new Error('judged elsewhere'));
    expect(await waiting).toBe(true);
    expect(await inFlight.settled('a')).toBe(false);
    other.resolve(3);
    await other.promise;
    await Promise.resolve();
    expect(await inFlight.settled('b')).toBe(false);
  });

  it('hands the tracked promise back unchanged', async () => {
    const inFlight = new InFlight();
    await expect(inFlight.track('a', Promise.resolve(7))).resolves.toBe(7);
    await expect(inFlight.track('a', Promise.reject(new Error('x')))).rejects.toThrow('x');
  });
});
