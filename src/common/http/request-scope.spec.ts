import { RequestScope, requestWork, runInScope } from './request-scope';

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('RequestScope (when the request deadline may answer 503)', () => {
  it('answers at once when no work of the request is running, and refuses work afterwards', async () => {
    const answer = jest.fn();
    const scope = new RequestScope(answer);
    scope.expire();
    expect(answer).toHaveBeenCalledTimes(1);
    const work = jest.fn();
    await expect(runInScope(scope, () => requestWork(work))).rejects.toMatchObject({
      kind: 'UNAVAILABLE',
      status: 503,
    });
    expect(work).not.toHaveBeenCalled();
  });

  it('waits for work in progress; once it completed, the request answers for itself', async () => {
    const answer = jest.fn();
    const scope = new RequestScope(answer);
    const db = deferred<string>();
    const running = runInScope(scope, () => requestWork(() => db.promise));
    scope.expire();
    expect(answer).not.toHaveBeenCalled();
    db.resolve('stored');
    await expect(running).resolves.toBe('stored');
    await nextTurn();
    expect(answer).not.toHaveBeenCalled();
  });

  it('answers 503 after work in progress failed (nothing stored)', async () => {
    const answer = jest.fn();
    const scope = new RequestScope(answer);
    const db = deferred<string>();
    const running = runInScope(scope, () => requestWork(() => db.promise));
    scope.expire();
    db.reject(new Error('statement timeout'));
    await expect(running).rejects.toThrow('statement timeout');
    await nextTurn();
    expect(answer).toHaveBeenCalledTimes(1);
  });

  it('does nothing outside a request (start-up, background jobs)', async () => {
    await expect(requestWork(() => 42)).resolves.toBe(42);
  });
});
