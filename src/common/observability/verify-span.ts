import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { Observable } from 'rxjs';
import type { VerifyFactor, VerifyResult } from './verify-outcome';

const tracer = trace.getTracer('mfa-service');

/** Span attributes of a verify or check: the factor and the result, nothing about the user or the code. */
export const VERIFY_SPAN_ATTRIBUTES = { factor: 'mfa.factor', result: 'mfa.result' } as const;

/**
 * Runs a verify or check route (`run`, subscribed inside the span's context, so its database spans and
 * log lines belong to it) in a span `verify <factor>` with the factor and, when it ends, the result
 * `resultOf` reads from its answer or error. An error that is no verdict on a code (no result) marks
 * the span as failed. Without tracing started the span records nothing.
 */
export function inVerifySpan<T>(
  factor: VerifyFactor,
  run: () => Observable<T>,
  resultOf: (error?: unknown) => VerifyResult | undefined,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    const span = tracer.startSpan(`verify ${factor}`, {
      attributes: { [VERIFY_SPAN_ATTRIBUTES.factor]: factor },
    });
    let ended = false;
    const end = (failed: boolean, error?: unknown) => {
      if (ended) return;
      ended = true;
      const result = failed && error === undefined ? undefined : resultOf(error);
      if (result) span.setAttribute(VERIFY_SPAN_ATTRIBUTES.result, result);
      else if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    const subscription = context.with(trace.setSpan(context.active(), span), () =>
      run().subscribe({
        next: (value) => {
          end(false);
          subscriber.next(value);
        },
        error: (e: unknown) => {
          end(true, e);
          subscriber.error(e);
        },
        complete: () => {
          end(false);
          subscriber.complete();
        },
      }),
    );
    return () => {
      // Unsubscribed before an answer (the client went away): the span ends without a result.
      if (!ended) {
        ended = true;
        span.end();
      }
      subscription.unsubscribe();
    };
  });
}
