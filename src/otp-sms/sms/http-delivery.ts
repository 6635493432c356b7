import * as http from 'node:http';
import * as https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { SmsDeliveryError } from './sms-sender';

export interface HttpDelivery {
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Further attempts after the first, on network errors, timeouts, 5xx and 429 answers. */
  retries: number;
  /** The whole send (every attempt and pause) ends within this time; a request still open then is aborted. */
  deadlineMs: number;
  /** Pause before retry n (1-based), in ms. */
  backoffMs?: (attempt: number) => number;
}

const defaultBackoff = (attempt: number) => Math.min(1000, 100 * 2 ** (attempt - 1));

/**
 * An idle pooled socket is closed after this long. Many servers (Node's own among them) close an idle
 * keep-alive connection after 5 s; closing ours first keeps a request from being written to a socket
 * the server is closing at that moment. A shorter `Keep-Alive: timeout=N` hint of the server is
 * honoured by the agent as well.
 */
export const IDLE_SOCKET_MS = 4000;

/** Open connections per provider host and scheme; further requests wait for a free one. */
export const MAX_SOCKETS = 64;

const agentOptions = {
  keepAlive: true,
  maxSockets: MAX_SOCKETS,
  maxFreeSockets: MAX_SOCKETS,
  timeout: IDLE_SOCKET_MS,
  // the most recently used socket first, so that the rest of the pool can run idle and close
  scheduling: 'lifo' as const,
};

/** One pool per scheme, shared by every sender: connections to a provider are reused across sends. */
const agents: Record<string, http.Agent | undefined> = {
  'http:': new http.Agent(agentOptions),
  'https:': new https.Agent(agentOptions),
};

/** What one attempt came to: the answer's status, or why there was none. */
type Outcome = number | 'network' | 'timeout';

/**
 * POSTs once, then retries transient failures (network error, timeout, 5xx, 429). A 2xx answer is
 * success; any other answer is final (the request itself is wrong, retrying does not help). That
 * includes redirects: a 3xx is not followed and ends the send as `HTTP 3xx`, since the provider's
 * URL is configured and a redirect is not something the next attempt would see differently.
 * Every attempt is cut off at the overall deadline, and no retry starts that could not finish its
 * pause before it: a hanging provider costs the caller at most `deadlineMs`.
 * Connections are kept alive and reused between sends; the answer body is read to its end (and
 * dropped) so that its connection can be. A request that fails on a reused connection before any
 * answer (the server closed it while it sat idle) is sent once more on another, within the same
 * attempt.
 * Errors name the status or error class only: never the URL, the body or the answer.
 */
export async function postWithRetries(d: HttpDelivery): Promise<void> {
  const backoff = d.backoffMs ?? defaultBackoff;
  const deadline = Date.now() + d.deadlineMs;
  const target = requestTarget(d.url);
  const headers: http.OutgoingHttpHeaders = { ...d.headers, 'Content-Length': Buffer.byteLength(d.body) };
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
    const outcome = target ? await post(target, headers, d.body, timeoutMs) : 'network';
    if (outcome === 'network') {
      last = 'network error';
      continue;
    }
    if (outcome === 'timeout') {
      last =
        timeoutMs < d.timeoutMs
          ? `send deadline of ${d.deadlineMs} ms passed`
          : `timeout after ${d.timeoutMs} ms`;
      continue;
    }
    if (outcome >= 200 && outcome < 300) return;
    last = `HTTP ${outcome}`;
    if (outcome < 500 && outcome !== 429) break;
  }
  throw new SmsDeliveryError(d.provider, `${last} (attempts: ${attempts})`);
}

interface Target {
  https: boolean;
  options: http.RequestOptions;
}

/**
 * The scheme and request options for `url`; none for a URL that is no http(s) URL (every attempt of
 * the send then fails as a network error).
 */
function requestTarget(url: string): Target | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const agent = agents[parsed.protocol];
  if (!agent) return undefined;
  return {
    https: parsed.protocol === 'https:',
    options: { ...urlToHttpOptions(parsed), method: 'POST', agent },
  };
}

/**
 * One attempt: the request, and its answer read to the end, within `timeoutMs`. Once the status has
 * arrived it stands, even if reading the rest of the answer fails or runs out of time.
 */
function post(
  target: Target,
  headers: http.OutgoingHttpHeaders,
  body: string,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let done = false;
    let status: number | undefined;
    let current: http.ClientRequest | undefined;
    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      finish(status ?? 'timeout');
      current?.destroy();
    }, timeoutMs);

    const send = (isResend: boolean) => {
      // the module's function looked up at each call, so that whatever instruments `http` sees it
      const request = target.https ? https.request : http.request;
      const req = request({ ...target.options, headers }, (res: http.IncomingMessage) => {
        status = res.statusCode ?? 0;
        const settle = () => finish(status!);
        res.on('end', settle);
        res.on('close', settle);
        res.on('error', settle);
        res.resume();
      });
      current = req;
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (done) return;
        if (status !== undefined) return finish(status);
        const staleSocket = req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
        if (staleSocket && !isResend) return send(true);
        finish('network');
      });
      req.end(body);
    };
    send(false);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
