import { ApiFamily } from './api-family';
import { DomainError, EMAIL_API_CODE_PREFIX, EMAIL_API_DEFAULT_CODE, GRPC_CODE } from './domain-error';

export interface RenderContext {
  requestId: string;
  path: string;
  now: Date;
}

/** ZITADEL (grpc-gateway) body: `{code, message: "<text> (<id>)", details:[ErrorDetail]}`; empty fields omitted. */
export function renderZitadel(err: DomainError): Record<string, unknown> {
  const body: Record<string, unknown> = {
    code: GRPC_CODE[err.kind],
    message: err.id ? `${err.message} (${err.id})` : err.message,
  };
  if (err.id) {
    body.details = [
      { '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id: err.id, message: err.message },
    ];
  }
  return body;
}

/** Email-challenge body: always the same 7 properties. */
export function renderEmailChallenge(err: DomainError, ctx: RenderContext): Record<string, unknown> {
  const code = EMAIL_API_CODE_PREFIX + (err.options.apiCode ?? EMAIL_API_DEFAULT_CODE[err.kind]);
  const fieldErrors = (err.options.fieldErrors ?? []).map((f) => ({
    field: f.field,
    code: EMAIL_API_CODE_PREFIX + 'BAD_REQUEST',
    message: f.message,
  }));
  return {
    code,
    message: err.options.fieldErrors?.length ? 'The request is invalid' : err.message,
    requestId: ctx.requestId,
    fieldErrors,
    status: err.status,
    timestamp: ctx.now.toISOString(),
    path: ctx.path,
  };
}

export const RENDERERS = {
  zitadel: (err: DomainError) => renderZitadel(err),
  'email-challenge': (err: DomainError, ctx: RenderContext) => renderEmailChallenge(err, ctx),
} satisfies Record<ApiFamily, (err: DomainError, ctx: RenderContext) => Record<string, unknown>>;
