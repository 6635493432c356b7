import { SmsDeliveryError } from './sms-sender';

export interface HttpDelivery {
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Further attempts after the first, on network errors, timeouts and 5xx answers. */
  retries: number;
  /** The whole send (every attempt and pause) ends within this time; a request still open then is aborted. */
  deadlineMs: number;
  /** Pause before retry n (1-based), in ms. */
  backoffMs?: (attempt: number) => number;
}

const defaultBackoff = (attempt: number) => Math.min(1000, 100 * 2 ** (attempt - 1));

/**
 * POSTs once, then retries transient failures (network error, timeout, 5xx, 429). A 2xx answer is
 * success; any other 4xx is final (the request itself is wrong, retrying does not help).
 * Every attempt is cut off at the overall deadline, and no retry starts that could not finish its
 * pause before it: a hanging provider costs the caller at most `deadlineMs`.
 * Errors name the status or error class only: never the URL, the body or the answer.
 */
export async function postWithRetries(d: HttpDelivery): Promise<void> {
  const backoff = d.backoffMs ?? defaultBackoff;
  const deadline = Date.now() + d.deadlineMs;
  let last = 'no attempt';
  let attempts = 0;
  for (let attempt = 0; attempt <= d.retries; attempt++) {
    if (attempt > 0) {
      const pause = backoff(attempt);
      if (Date.now() + pause >= deadline) break;
      await sleep(pause);
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    const timeoutMs = Math.min(d.timeoutMs, left);
    attempts++;
    let status: number;
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: d.headers,
        body: d.body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined); // drain, so the connection can be reused
    } catch (e) {
      const name = (e as { name?: string }).name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      last = !timedOut
        ? 'network error'
        : timeoutMs < d.timeoutMs
          ? `send deadline of ${d.deadlineMs} ms passed`
          : `timeout after ${d.timeoutMs} ms`;
      continue;
    }
    if (status >= 200 && status < 300) return;
    last = `HTTP ${status}`;
    if (status < 500 && status !== 429) break;
  }
  throw new SmsDeliveryError(d.provider, `${last} (attempts: ${attempts})`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
