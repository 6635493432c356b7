import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import type { VerifyFactor, VerifyResult } from './verify-outcome';

const tracer = trace.getTracer('mfa-service');

/** Span attributes of a verify or check: the factor and the result, nothing about the user or the code. */
export const VERIFY_SPAN_ATTRIBUTES = { factor: 'mfa.factor', result: 'mfa.result' } as const;

/**
 * Runs a verify or check route (`run`, called inside the span's context, so its database spans and log
 * lines belong to it) in a span `verify <factor>` with the factor and, when it settles, the result
 * `resultOf` reads from its answer or error. An error that is no verdict on a code (no result) marks
 * the span as failed. Without tracing started the span records nothing.
 */
export function inVerifySpan<T>(
  factor: VerifyFactor,
  run: () => T | Promise<T>,
  resultOf: (error?: unknown) => VerifyResult | undefined,
): Promise<T> {
  const span = tracer.startSpan(`verify ${factor}`, {
    attributes: { [VERIFY_SPAN_ATTRIBUTES.factor]: factor },
  });
  const end = (failed: boolean, error?: unknown) => {
    const result = failed && error === undefined ? undefined : resultOf(error);
    if (result) span.setAttribute(VERIFY_SPAN_ATTRIBUTES.result, result);
    else if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  let answer: T | Promise<T>;
  try {
    answer = context.with(trace.setSpan(context.active(), span), run);
  } catch (e) {
    end(true, e);
    return Promise.reject(e);
  }
  return Promise.resolve(answer).then(
    (value) => {
      end(false);
      return value;
    },
    (e: unknown) => {
      end(true, e);
      throw e;
    },
  );
}
