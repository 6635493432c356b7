import { AsyncLocalStorage } from 'node:async_hooks';
import { DomainError, Errors } from '../errors/domain-error';

/** Seconds a client is asked to wait before retrying a request refused for load or time. */
export const RETRY_AFTER_SECONDS = 1;

/** The answer to a request that outlived REQUEST_TIMEOUT_MS. */
export const DEADLINE_EXCEEDED = (): DomainError =>
  Errors.unavailable('HTTP-Dline1', 'The request did not complete in time; retry later', {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });

/**
 * One request's deadline, as the database layer sees it. When the deadline passes, the request is
 * answered 503 – but only if that answer is true: nothing of the request may have been stored and
 * nothing may be stored afterwards. So
 * - database work that may write (a transaction, a batched statement) is refused once the deadline
 *   has passed (`enter` throws), so a late start cannot change anything after the 503;
 * - while such work runs, the 503 waits for it (the database's own time bounds end it);
 * - once such work has completed, the request answers for itself with its real outcome.
 */
export class RequestScope {
  expired = false;
  /** Work of this request may have been stored: the deadline no longer answers for it. */
  settled = false;
  private running = 0;

  constructor(private readonly answer: () => void) {}

  /** The deadline passed: answer 503 now, or once the work in progress ended without storing anything. */
  expire(): void {
    this.expired = true;
    if (this.running === 0 && !this.settled) this.answer();
  }

  /** Starts database work of this request; throws the 503 error once the deadline has passed. */
  enter(): void {
    if (this.expired) throw DEADLINE_EXCEEDED();
    this.running++;
  }

  /** Ends it; `stored`: it completed (and may have written). */
  leave(stored: boolean): void {
    this.running--;
    if (stored) this.settled = true;
    // After the microtasks of this turn: the request's own (error) answer, if it is ready, goes first.
    if (this.expired && this.running === 0 && !this.settled) setImmediate(this.answer);
  }
}

const storage = new AsyncLocalStorage<RequestScope>();

/** The scope of the request being served, if any (background jobs and start-up have none). */
export const currentScope = (): RequestScope | undefined => storage.getStore();

export const runInScope = <T>(scope: RequestScope, fn: () => T): T => storage.run(scope, fn);

/**
 * Runs database work that may write on behalf of the current request (see RequestScope): refused with
 * 503 once the request's deadline has passed, and the deadline waits for it while it runs.
 */
export async function requestWork<T>(work: () => Promise<T> | T, scope = currentScope()): Promise<T> {
  if (!scope) return work();
  scope.enter();
  let stored = false;
  try {
    const result = await work();
    stored = true;
    return result;
  } finally {
    scope.leave(stored);
  }
}
