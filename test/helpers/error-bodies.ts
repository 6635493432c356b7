import { Response } from 'supertest';

/**
 * The error bodies of the two API families, written once for every e2e suite.
 *
 * ZITADEL family (identity, TOTP, OTP SMS): `{code, message, details}` where `code` is the gRPC code,
 * a domain error's message ends with its id in parentheses and `details` holds one ErrorDetail;
 * validation and transport errors carry `{code, message}` only.
 *
 * Email-challenge family: `{code: "urn:plmr:mfa-totp:api:…", message, requestId, fieldErrors, status,
 * timestamp, path}`.
 */

// ---- ZITADEL family ---------------------------------------------------------------------------

export const ZITADEL_ERROR_DETAIL_TYPE = 'type.googleapis.com/zitadel.v1.ErrorDetail';

export interface ZitadelErrorBody {
  code: number;
  message: string;
  details?: { '@type': string; id: string; message: string }[];
}

/** The body of a domain error: gRPC code, `text (id)`, and the one ErrorDetail entry naming the id. */
export const zitadelError = (code: number, id: string, text: string): Required<ZitadelErrorBody> => ({
  code,
  message: `${text} (${id})`,
  details: [{ '@type': ZITADEL_ERROR_DETAIL_TYPE, id, message: text }],
});

/** The body of an error without an id (validation, transport, missing header): code and message only. */
export const zitadelPlain = (code: number, message: string): ZitadelErrorBody => ({ code, message });

/** The body of a validation error (gRPC INVALID_ARGUMENT, no details), e.g. `invalid X.Code: …`. */
export const zitadelInvalid = (message: string): ZitadelErrorBody => zitadelPlain(3, message);

/** The `details` of a domain error, matched by its id only (for a test about which error, not its text). */
export const detailsWithId = (id: string) => [
  expect.objectContaining({ '@type': ZITADEL_ERROR_DETAIL_TYPE, id }),
];

/** The errors every route family answers. */
export const PERMISSION_DENIED = zitadelError(7, 'AUTH-AWfge', 'No matching permissions found');
export const TOKEN_INVALID = zitadelError(16, 'AUTH-7fs1e', 'Token is invalid');

/** Any ZITADEL-family error body: an integer code, a message, `details` only as an array, nothing else. */
export function expectZitadelShape(res: Response): void {
  expect(res.body).toEqual({
    code: expect.any(Number),
    message: expect.any(String),
    ...(res.body.details ? { details: expect.any(Array) } : {}),
  });
}

// ---- email-challenge family -------------------------------------------------------------------

export const EMAIL_CODE_PREFIX = 'urn:plmr:mfa-totp:api:';

/** The seven properties of every email-challenge error body, sorted. */
export const EMAIL_ERROR_KEYS = [
  'code',
  'fieldErrors',
  'message',
  'path',
  'requestId',
  'status',
  'timestamp',
];

/** `urn:plmr:mfa-totp:api:<name>` */
export const emailCode = (name: string): string => EMAIL_CODE_PREFIX + name;

/**
 * Any email-challenge error body of this status: the seven properties, a code of the family and the
 * request id of the `X-Request-Id` header.
 */
export function expectEmailShape(res: Response, status: number): void {
  expect(res.body).toEqual({
    code: expect.stringMatching(/^urn:plmr:mfa-totp:api:[A-Z_]+$/),
    message: expect.any(String),
    requestId: res.headers['x-request-id'],
    fieldErrors: expect.any(Array),
    status,
    timestamp: expect.any(String),
    path: expect.any(String),
  });
}

/**
 * An email-challenge error exactly: the HTTP status, exactly the seven properties, the code, the status
 * and path filled in, the request id echoed, an ISO timestamp, and the message when given.
 */
export function expectEmailError(res: Response, status: number, code: string, message?: RegExp): void {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body as object).sort()).toEqual(EMAIL_ERROR_KEYS);
  expect(res.body.code).toBe(emailCode(code));
  expect(res.body.status).toBe(status);
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
  expect(res.body.requestId).toMatch(/\S{8,}/);
  expect(res.body.path).toBe((res as unknown as { req: { path: string } }).req.path.split('?')[0]);
  expect(new Date(res.body.timestamp).toISOString()).toBe(res.body.timestamp);
  expect(Array.isArray(res.body.fieldErrors)).toBe(true);
  if (message) expect(res.body.message).toMatch(message);
}
