import { randomUUID } from 'node:crypto';
import { TestApp } from './test-app';

/** Waits (polling, up to `timeoutMs`) until a captured log line satisfies `predicate`; returns it. */
export async function waitForLog(
  t: TestApp,
  predicate: (line: string) => boolean,
  timeoutMs = 20000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = t.logs.find(predicate);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error('expected log line did not appear');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Log lines are written asynchronously. Sends one marker request and waits for its log line, so
 * every line of earlier requests has been captured before a test asserts on `t.logs`.
 */
export async function settleLogs(t: TestApp): Promise<void> {
  const marker = `log-marker-${randomUUID()}`;
  await t.http.get('/log-marker').set('X-Request-Id', marker);
  await waitForLog(t, (l) => l.includes(marker));
}
