import type { IncomingMessage } from 'node:http';
import { DomainError, FieldError } from '../errors/domain-error';

/**
 * Checks every request passes before anything acts on it, the same on both HTTP adapters: what no
 * route can handle safely is refused here with a 4xx (in the route family's format, by the one
 * exception filter) before it reaches a guard, a service, the database or a shared batch.
 *
 * - A `Content-Encoding` other than `identity` → 415 (with `Accept-Encoding: identity`): request
 *   bodies are small JSON documents, so compressed ones are not accepted at all.
 * - A path with malformed percent-encoding → 400 (neither router could take it apart).
 * - A NUL character (`%00`) in the path or the query → 400.
 * - A JSON body nested deeper than JSON_MAX_DEPTH → 400 (deep documents exhaust the stack of code
 *   that walks them recursively).
 * - A NUL character in any string or key of a JSON body → 400 (PostgreSQL cannot store it in text).
 */

/** Deepest nesting of objects and arrays a JSON body may have; the outermost one is level 1. */
export const JSON_MAX_DEPTH = 32;

/** Longest field path quoted back in an error. */
const MAX_FIELD_PATH = 200;

const invalid = (reason: string, fieldErrors?: FieldError[]) =>
  new DomainError(
    'INVALID_ARGUMENT',
    undefined,
    `invalid request: ${reason}`,
    fieldErrors ? { fieldErrors } : {},
  );

export const MALFORMED_PATH = () => invalid('malformed percent-encoding in the path');
export const PATH_PARAMETER_TOO_LONG = () => invalid('a path parameter is too long');

/** The checks on method, target and headers; undefined when the request may go on. */
export function screenRequestHead(req: Pick<IncomingMessage, 'headers' | 'url'>): DomainError | undefined {
  return screenContentEncoding(req.headers['content-encoding']) ?? screenRequestTarget(req.url ?? '/');
}

/** Only `identity` (or no header) is accepted. */
export function screenContentEncoding(header: string | string[] | undefined): DomainError | undefined {
  if (header === undefined) return undefined;
  const codings = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  if (codings.every((c) => c === 'identity')) return undefined;
  return new DomainError(
    'UNSUPPORTED_MEDIA_TYPE',
    undefined,
    'unsupported content encoding: only identity is accepted',
    {
      headers: { 'Accept-Encoding': 'identity' },
    },
  );
}

/** The request target: a path that percent-decodes, and no NUL in path or query. */
export function screenRequestTarget(url: string): DomainError | undefined {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  try {
    decodeURIComponent(path);
  } catch {
    return MALFORMED_PATH();
  }
  // a raw NUL byte never gets past Node's HTTP parser; `%00` is the only way to send one
  if (/%00/i.test(url)) return invalid('the path or query holds a NUL character');
  return undefined;
}

/**
 * A parsed JSON body: at most JSON_MAX_DEPTH levels deep, no NUL in any string or key. The walk
 * stops at the depth limit, so it never recurses deeper than that itself.
 */
export function screenJsonBody(body: unknown): DomainError | undefined {
  const found = walk(body, '', 0);
  if (!found) return undefined;
  if (found.kind === 'depth') return invalid(`JSON nested deeper than ${JSON_MAX_DEPTH} levels`);
  const field = found.path.length > MAX_FIELD_PATH ? `${found.path.slice(0, MAX_FIELD_PATH)}…` : found.path;
  const NOT_NUL = 'must not hold a NUL character';
  if (found.kind === 'key')
    return invalid(`keys of ${field || 'the body'} ${NOT_NUL}`, [{ field, message: `keys ${NOT_NUL}` }]);
  return invalid(`${field || 'the body'} ${NOT_NUL}`, [{ field, message: `value ${NOT_NUL}` }]);
}

type Finding = { kind: 'depth' } | { kind: 'key' | 'value'; path: string };

function walk(value: unknown, path: string, depth: number): Finding | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? { kind: 'value', path } : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth + 1 > JSON_MAX_DEPTH) return { kind: 'depth' };
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i): [string, unknown] => [String(i), v])
    : Object.entries(value as Record<string, unknown>);
  let nul: Finding | undefined;
  for (const [key, child] of entries) {
    if (!Array.isArray(value) && key.includes('\u0000')) nul ??= { kind: 'key', path };
    const found = walk(child, path ? `${path}.${key}` : key, depth + 1);
    // too deep anywhere wins: that is the first thing a client must fix
    if (found?.kind === 'depth') return found;
    nul ??= found;
  }
  return nul;
}
