import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';
import { ApiFamily } from '../errors/api-family';
import { DomainError, Errors } from '../errors/domain-error';
import { RENDERERS } from '../errors/error-renderers';
import { RouteRegistry } from '../errors/route-registry';
import { ensureRequestId, REQUEST_ID_HEADER } from './request-id';
import { DEADLINE_EXCEEDED, RequestScope, RETRY_AFTER_SECONDS, runInScope } from './request-scope';

/** Probes answer whatever the load: liveness must stay prompt, readiness has its own one-second bound. */
const EXEMPT = new Set(['/healthz', '/readyz']);

const OVERLOADED = (): DomainError =>
  Errors.unavailable('HTTP-Busy01', 'The service is busy; retry later', {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });

const SCOPE = Symbol('requestScope');
type Req = IncomingMessage & { [SCOPE]?: RequestScope };

/**
 * Bounds on every request, ahead of body parsing, routing and authentication, on the raw node
 * request so both HTTP adapters share it:
 * - at most MAX_IN_FLIGHT_REQUESTS run at once; one more is refused at once with 503 + Retry-After,
 *   so excess load is turned away cheaply instead of queueing until clients give up;
 * - a request still unanswered after REQUEST_TIMEOUT_MS is answered 503 (see RequestScope for what
 *   keeps that answer true when database work is involved).
 * Both answers are in the route family's error format with X-Request-Id. Health probes are exempt.
 */
export class RequestLimits {
  private inFlight = 0;
  private registry?: RouteRegistry | null;

  constructor(
    private readonly app: INestApplication,
    private readonly limits: AppConfig['limits'],
  ) {}

  /**
   * Admits a request: its scope (to run the rest of the pipeline in), `undefined` for an exempt one, or
   * `false` when it was refused (already answered).
   */
  admit(req: Req, res: ServerResponse): RequestScope | undefined | false {
    if (EXEMPT.has(pathOf(req))) return undefined;
    if (this.inFlight >= this.limits.maxInFlightRequests) {
      this.reply(req, res, OVERLOADED());
      return false;
    }
    this.inFlight++;
    const scope = new RequestScope(() => this.reply(req, res, DEADLINE_EXCEEDED()));
    const timer = setTimeout(() => scope.expire(), this.limits.requestTimeoutMs);
    res.once('close', () => {
      this.inFlight--;
      clearTimeout(timer);
    });
    req[SCOPE] = scope;
    return scope;
  }

  /** Express: admission as middleware, before the body parser. */
  readonly expressAdmit = (req: Req, res: ServerResponse, next: () => void): void => {
    const scope = this.admit(req, res);
    if (scope === false) return;
    if (scope) runInScope(scope, next);
    else next();
  };

  /**
   * Re-enters the request's scope: the body parser continues the pipeline from the socket's events,
   * outside the async context admission started (so after it, on both adapters).
   */
  readonly reenter = (req: Req, next: () => void): void => {
    const scope = req[SCOPE];
    if (scope) runInScope(scope, next);
    else next();
  };

  private reply(req: IncomingMessage, res: ServerResponse, err: DomainError): void {
    if (res.headersSent || res.writableEnded) return;
    const requestId = ensureRequestId(req, res);
    const path = pathOf(req);
    const body = RENDERERS[this.familyOf(path)](err, { requestId, path, now: new Date() });
    res.statusCode = err.status;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Retry-After', String(err.options.retryAfterSeconds ?? RETRY_AFTER_SECONDS));
    res.end(JSON.stringify(body));
  }

  private familyOf(path: string): ApiFamily {
    if (this.registry === undefined) {
      try {
        this.registry = this.app.get(RouteRegistry, { strict: false });
      } catch {
        this.registry = null;
      }
    }
    return this.registry?.familyOf(path) ?? 'zitadel';
  }
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}
