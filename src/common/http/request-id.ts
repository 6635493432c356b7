import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const SANE = /^[A-Za-z0-9._:-]{8,128}$/;
export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * The request id: keep an id already assigned to the request (the Fastify adapter assigns one
 * before any middleware runs), else take the caller's X-Request-Id when it is a sane value, else make
 * one; echo it on the response. Works on the raw node objects every Nest adapter exposes.
 */
export function assignRequestId(req: IncomingMessage & { id?: unknown }, res: ServerResponse): string {
  const id = typeof req.id === 'string' && req.id ? req.id : requestIdFromHeaders(req);
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** The caller's X-Request-Id when it is a sane value, else a new UUID. */
export function requestIdFromHeaders(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE.test(given) ? given : randomUUID();
}

/** The request id of a request (Express or Fastify request, or the raw node request). */
export function requestIdOf(req: unknown): string {
  const r = req as { id?: unknown; raw?: { id?: unknown } };
  const id = r.id ?? r.raw?.id;
  return typeof id === 'string' ? id : '';
}

/**
 * The request id, assigned now if no middleware did it yet: errors raised before the logging
 * middleware runs (malformed JSON, oversize bodies: the body parser comes first) still get an
 * `X-Request-Id` header and a `requestId` in the body.
 */
export function ensureRequestId(req: unknown, res: unknown): string {
  const existing = requestIdOf(req);
  if (existing) return existing;
  const rawReq = ((req as { raw?: unknown }).raw ?? req) as IncomingMessage & { id?: unknown };
  const rawRes = ((res as { raw?: unknown }).raw ?? res) as ServerResponse;
  const id = assignRequestId(rawReq, rawRes);
  rawReq.id = id;
  return id;
}
