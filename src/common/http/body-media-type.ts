import { DomainError } from '../errors/domain-error';

/** The one media type request bodies are read as. */
export const JSON_MEDIA_TYPE = 'application/json';

/** Methods whose body a route may read; other methods' bodies are ignored by both adapters. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Headers = Record<string, string | string[] | undefined>;

/**
 * Both adapters answer a request body that is not `application/json` the same way, before anything
 * runs: 415 in the route family's format, naming the expected type. Rules:
 * - only a request that carries a body is judged (`Content-Length` above 0, or `Transfer-Encoding`):
 *   a bodiless POST reads as `{}` whatever its `Content-Type` says, so routes with optional bodies
 *   work for clients that send none;
 * - the media type must be exactly `application/json` (any case, parameters allowed); `+json` types
 *   are refused too, as the API defines no semantics for them;
 * - a `charset` parameter, if any, must be `utf-8` (JSON's only interchange encoding).
 * A body without any `Content-Type` is refused as well: silently reading it as JSON would accept what
 * the client did not declare, and ignoring it would answer a misleading validation error.
 */
export function checkBodyMediaType(method: string, headers: Headers): DomainError | undefined {
  if (!BODY_METHODS.has(method.toUpperCase()) || !hasBody(headers)) return undefined;
  const header = first(headers['content-type']);
  if (header === undefined) return unsupportedMediaType();
  const [essence, ...params] = header.split(';');
  if (essence.trim().toLowerCase() !== JSON_MEDIA_TYPE) return unsupportedMediaType();
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return unsupportedMediaType();
  }
  return undefined;
}

/** The same error for whatever else ends in 415 (e.g. a Content-Type header that does not parse). */
export function unsupportedMediaType(): DomainError {
  return new DomainError(
    'UNSUPPORTED_MEDIA_TYPE',
    undefined,
    `unsupported media type: the request body must be JSON sent as Content-Type: ${JSON_MEDIA_TYPE} (UTF-8)`,
  );
}

function hasBody(headers: Headers): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = first(headers['content-length']);
  return length !== undefined && length.trim() !== '' && length.trim() !== '0';
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
