import type { OpenAPIObject } from '@nestjs/swagger';
import { JSON_MAX_DEPTH } from '../http/input-screen';

type Operation = { requestBody?: unknown; responses: Record<string, Record<string, unknown>> };

/** Path prefix of the email-challenge family (its own error body); every other route speaks ZITADEL's. */
const EMAIL_PREFIX = '/internal/v1/mfa/';
const RETRY_AFTER = {
  'Retry-After': {
    description: 'Seconds after which a retry may succeed.',
    schema: { type: 'integer', example: 2 },
  },
};

interface TransportStatus {
  status: number;
  /** Only for methods that may carry a body (any body sent is judged, even where the operation takes none). */
  bodyOnly?: boolean;
  description: string;
  zitadel: { code: number; message: string; id?: string };
  email: { code: string; message: string };
}

/**
 * Answers every route can give before (or beside) its own logic: input refused by the HTTP layer,
 * and temporary unavailability. They are added to each operation that does not already document the
 * status, so the document lists every status a route can return.
 */
const TRANSPORT_STATUSES: TransportStatus[] = [
  {
    status: 400,
    description: `The request is malformed: a path with broken percent-encoding or a NUL character, invalid JSON, or JSON nested deeper than ${JSON_MAX_DEPTH} levels.`,
    zitadel: { code: 3, message: 'invalid request: malformed percent-encoding in the path' },
    email: { code: 'BAD_REQUEST', message: 'invalid request: malformed percent-encoding in the path' },
  },
  {
    status: 413,
    bodyOnly: true,
    description: 'The request body is larger than the configured limit.',
    zitadel: { code: 3, message: 'request body too large' },
    email: { code: 'BAD_REQUEST', message: 'request body too large' },
  },
  {
    status: 415,
    bodyOnly: true,
    description:
      'The request body is not JSON sent as `Content-Type: application/json` (UTF-8), or carries a `Content-Encoding` other than `identity`.',
    zitadel: {
      code: 3,
      message:
        'unsupported media type: the request body must be JSON sent as Content-Type: application/json (UTF-8)',
    },
    email: {
      code: 'BAD_REQUEST',
      message:
        'unsupported media type: the request body must be JSON sent as Content-Type: application/json (UTF-8)',
    },
  },
  {
    status: 503,
    description:
      'Temporarily unavailable: the database cannot be reached, the service is at its limit of requests in flight, or the request ran past its deadline. Nothing was changed; retry after `Retry-After` seconds.',
    zitadel: { code: 14, message: 'The service is temporarily unavailable; retry later', id: 'DB-Unavl1' },
    email: { code: 'INTERNAL_SERVER_ERROR', message: 'The service is temporarily unavailable; retry later' },
  },
];

function zitadelBody(s: TransportStatus) {
  const { code, message, id } = s.zitadel;
  return id
    ? {
        code,
        message: `${message} (${id})`,
        details: [{ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id, message }],
      }
    : { code, message };
}

function emailBody(s: TransportStatus, path: string) {
  return {
    code: `urn:plmr:mfa-totp:api:${s.email.code}`,
    message: s.email.message,
    requestId: '3f0c2a4e-8d1b-4b7e-9a51-0c6f2f1d9e7a',
    fieldErrors: [],
    status: s.status,
    timestamp: '2025-03-05T21:29:22.094Z',
    path: path.replace('{challengeId}', '312909075212468632'),
  };
}

/** Numeric statuses ascending, `default` last: the order readers expect. */
function ordered(responses: Operation['responses']): Operation['responses'] {
  const keys = Object.keys(responses).sort((a, b) =>
    a === 'default' ? 1 : b === 'default' ? -1 : Number(a) - Number(b),
  );
  return Object.fromEntries(keys.map((k) => [k, responses[k]]));
}

export function addTransportResponses(doc: OpenAPIObject): void {
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      const email = path.startsWith(EMAIL_PREFIX);
      // The media types of the operation's own error answers (ZITADEL routes list three).
      const mediaTypes = email
        ? ['application/json']
        : Object.keys((op.responses['400']?.content as object | undefined) ?? { 'application/json': 1 });
      const schema = {
        $ref: email ? '#/components/schemas/EmailChallengeErrorDto' : '#/components/schemas/RpcStatusDto',
      };
      for (const s of TRANSPORT_STATUSES) {
        if (s.bodyOnly && method === 'get') continue;
        const key = String(s.status);
        if (!op.responses[key]) {
          const example = email ? emailBody(s, path) : zitadelBody(s);
          op.responses[key] = {
            description: s.description,
            content: Object.fromEntries(mediaTypes.map((m) => [m, { schema, example }])),
          };
        }
        if (s.status === 503)
          op.responses[key].headers = {
            ...RETRY_AFTER,
            ...(op.responses[key].headers as object | undefined),
          };
      }
      op.responses = ordered(op.responses);
    }
  }
}
