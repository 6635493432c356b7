import { HttpStatus } from '@nestjs/common';

/** What went wrong, independent of any wire format. */
export type ErrorKind =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'GONE'
  | 'PAYLOAD_TOO_LARGE'
  | 'METHOD_NOT_ALLOWED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAVAILABLE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL';

/** HTTP status per kind; grpc-gateway's mapping where a gRPC code exists (FailedPrecondition is 400 there). */
export const HTTP_STATUS = {
  INVALID_ARGUMENT: HttpStatus.BAD_REQUEST,
  FAILED_PRECONDITION: HttpStatus.BAD_REQUEST,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  ALREADY_EXISTS: HttpStatus.CONFLICT,
  PERMISSION_DENIED: HttpStatus.FORBIDDEN,
  UNAUTHENTICATED: HttpStatus.UNAUTHORIZED,
  RESOURCE_EXHAUSTED: HttpStatus.TOO_MANY_REQUESTS,
  GONE: HttpStatus.GONE,
  PAYLOAD_TOO_LARGE: HttpStatus.PAYLOAD_TOO_LARGE,
  METHOD_NOT_ALLOWED: HttpStatus.METHOD_NOT_ALLOWED,
  UNSUPPORTED_MEDIA_TYPE: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
  UNIMPLEMENTED: HttpStatus.NOT_IMPLEMENTED,
  INTERNAL: HttpStatus.INTERNAL_SERVER_ERROR,
} as const satisfies Record<ErrorKind, HttpStatus>;

/** gRPC status code per kind, as ZITADEL's ErrorHandler produces it. */
export const GRPC_CODE = {
  INVALID_ARGUMENT: 3,
  FAILED_PRECONDITION: 9,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  UNAUTHENTICATED: 16,
  RESOURCE_EXHAUSTED: 8,
  GONE: 9,
  PAYLOAD_TOO_LARGE: 8,
  METHOD_NOT_ALLOWED: 12,
  UNSUPPORTED_MEDIA_TYPE: 3,
  UNAVAILABLE: 14,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const satisfies Record<ErrorKind, number>;

/** The codes of the email-challenge API; only these may appear on the wire. */
export const EMAIL_API_CODES = [
  'INTERNAL_SERVER_ERROR',
  'BAD_REQUEST',
  'RESOURCE_UNKNOWN',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'USER_NOT_FOUND',
  'CHALLENGE_NOT_FOUND',
  'INVALID_OTP',
  'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID',
  'STEP_UP_REQUEST_CONTEXT_NOT_FOUND',
] as const;
export type EmailApiCode = (typeof EMAIL_API_CODES)[number];
export const EMAIL_API_CODE_PREFIX = 'urn:plmr:mfa-totp:api:';

/** Default email-challenge code per kind, used when the thrower names none. */
export const EMAIL_API_DEFAULT_CODE = {
  INVALID_ARGUMENT: 'BAD_REQUEST',
  FAILED_PRECONDITION: 'BAD_REQUEST',
  NOT_FOUND: 'RESOURCE_UNKNOWN',
  ALREADY_EXISTS: 'BAD_REQUEST',
  PERMISSION_DENIED: 'FORBIDDEN',
  UNAUTHENTICATED: 'UNAUTHORIZED',
  RESOURCE_EXHAUSTED: 'FORBIDDEN',
  GONE: 'CHALLENGE_NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'BAD_REQUEST',
  METHOD_NOT_ALLOWED: 'RESOURCE_UNKNOWN',
  UNSUPPORTED_MEDIA_TYPE: 'BAD_REQUEST',
  UNAVAILABLE: 'INTERNAL_SERVER_ERROR',
  UNIMPLEMENTED: 'RESOURCE_UNKNOWN',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
} as const satisfies Record<ErrorKind, EmailApiCode>;

export interface FieldError {
  /** Dotted path of the offending field, e.g. `totp` or `context`. */
  field: string;
  message: string;
}

export interface DomainErrorOptions {
  /** Seconds after which the client may retry (sets `Retry-After`). */
  retryAfterSeconds?: number;
  /** The email-challenge API code, when it is more specific than the kind's default. */
  apiCode?: EmailApiCode;
  /** Every validation violation (the ZITADEL format shows the first, as protoc-gen-validate does). */
  fieldErrors?: FieldError[];
  /** Extra response headers (e.g. WWW-Authenticate). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The one error type services throw. `id` is ZITADEL's stable error id (e.g. `EVENT-8isk2`);
 * `message` is the human text without the id. Renderers turn it into each API's own body.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly id: string | undefined,
    message: string,
    readonly options: DomainErrorOptions = {},
  ) {
    super(message, options.cause ? { cause: options.cause } : undefined);
    this.name = 'DomainError';
  }

  get status(): number {
    return HTTP_STATUS[this.kind];
  }
}

/** Short constructors for the common cases. */
export const Errors = {
  invalidArgument: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('INVALID_ARGUMENT', id, message, o),
  failedPrecondition: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('FAILED_PRECONDITION', id, message, o),
  notFound: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('NOT_FOUND', id, message, o),
  alreadyExists: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('ALREADY_EXISTS', id, message, o),
  permissionDenied: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('PERMISSION_DENIED', id, message, o),
  unauthenticated: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('UNAUTHENTICATED', id, message, {
      ...o,
      headers: { 'WWW-Authenticate': 'Bearer', ...(o?.headers ?? {}) },
    }),
  resourceExhausted: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('RESOURCE_EXHAUSTED', id, message, o),
  gone: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('GONE', id, message, o),
  unavailable: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('UNAVAILABLE', id, message, o),
  internal: (id: string | undefined, message: string, o?: DomainErrorOptions) =>
    new DomainError('INTERNAL', id, message, o),
};
