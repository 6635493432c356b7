import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { DomainError, ErrorKind } from '../errors/domain-error';
import { inVerifySpan } from './verify-span';

/**
 * What a verify or check attempt ended as, for metrics and traces. The one place that says which
 * result an answer of a verify route means: the routes name their factor (@CountsOutcome), the
 * services throw their usual DomainErrors, and `classifyVerify` reads those errors. Nothing here
 * holds a user id, a code or an address: a factor and a result are all an outcome carries.
 */
export const VERIFY_FACTORS = ['totp', 'otp_sms', 'otp_email', 'recovery_code', 'email_challenge'] as const;
export type VerifyFactor = (typeof VERIFY_FACTORS)[number];

export const VERIFY_RESULTS = ['success', 'invalid', 'replayed', 'locked', 'expired', 'not_found'] as const;
export type VerifyResult = (typeof VERIFY_RESULTS)[number];

export interface VerifyOutcome {
  factor: VerifyFactor;
  result: VerifyResult;
  /** This attempt was the failure that locked the factor (or used up the code or challenge). */
  lockoutStarted: boolean;
}

/** What only the thrower knows: the same error answers a replay and a wrong code, and a failure may lock. */
interface OutcomeTag {
  result?: VerifyResult;
  lockoutStarted?: boolean;
}

const tags = new WeakMap<object, OutcomeTag>();

/** Marks a thrown error with what it means for the attempt when the error itself does not say it. */
export function tagOutcome<E extends Error>(error: E, tag: OutcomeTag): E {
  tags.set(error, { ...tags.get(error), ...tag });
  return error;
}

/** Results by error id (ZITADEL ids of the TOTP and OTP SMS services). */
const RESULT_BY_ID: Readonly<Record<string, VerifyResult>> = {
  // TOTP: wrong code (a replay is tagged), locked, no TOTP / not in the state the route needs.
  'EVENT-8isk2': 'invalid',
  'TOTP-4ttmp': 'locked',
  'COMMAND-3Mif9s': 'not_found',
  'COMMAND-qx4ls': 'not_found',
  'COMMAND-SqyJz': 'not_found',
  // OTP SMS: wrong code, expired code, attempts of the code used up, no pending code, no
  // authenticator in the state the route needs.
  'CODE-woT0xc': 'invalid',
  'CODE-QvUQ4P': 'expired',
  'OTPSMS-Att3mx': 'locked',
  'COMMAND-S34gh': 'not_found',
  'COMMAND-Sr3h3': 'not_found',
  'COMMAND-SFD52': 'not_found',
  'COMMAND-d2r52': 'not_found',
  // v2 OTP SMS / OTP Email (shared one-time codes): attempts of the code used up, no factor.
  'OTPCODE-Att3mx': 'locked',
  'COMMAND-b312D': 'not_found',
  // Recovery codes: wrong or used code (locked and no set follow from the kind).
  'RECOVERY-1nv4ld': 'invalid',
};

/** Results by kind, for errors without a more specific entry; other kinds are no verdict on a code. */
const RESULT_BY_KIND: Partial<Record<ErrorKind, VerifyResult>> = {
  NOT_FOUND: 'not_found',
  RESOURCE_EXHAUSTED: 'locked',
  GONE: 'expired',
};

/** What a challenge in this status means to an attempt to verify it. */
export function challengeStatusResult(status: 'EXPIRED' | 'LOCKED' | 'VERIFIED' | 'CONSUMED'): VerifyResult {
  switch (status) {
    case 'EXPIRED':
      return 'expired';
    case 'LOCKED':
      return 'locked';
    case 'VERIFIED':
    case 'CONSUMED':
      return 'replayed';
  }
}

/**
 * The result of a verify or check route that answered (`error` undefined) or threw `error`. Undefined
 * when the answer is no verdict on a code: a malformed request, a refused caller, an unavailable
 * database – those show in the request metrics only.
 */
export function classifyVerify(error?: unknown): Omit<VerifyOutcome, 'factor'> | undefined {
  if (error === undefined) return { result: 'success', lockoutStarted: false };
  if (!(error instanceof DomainError)) return undefined;
  const tag = tags.get(error) ?? {};
  const result = tag.result ?? resultOf(error);
  return result && { result, lockoutStarted: tag.lockoutStarted === true };
}

function resultOf(e: DomainError): VerifyResult | undefined {
  if (e.id !== undefined && RESULT_BY_ID[e.id]) return RESULT_BY_ID[e.id];
  if (e.options.apiCode === 'INVALID_OTP') return 'invalid';
  return RESULT_BY_KIND[e.kind];
}

/** The VerifyOutcomes of the app each controller instance serves in (see VerifyOutcomes.onModuleInit). */
const reporters = new WeakMap<object, VerifyOutcomes>();

/** Everything that wants to know about verify outcomes (metrics, traces) subscribes here. */
@Injectable()
export class VerifyOutcomes implements OnModuleInit {
  private readonly observers: ((outcome: VerifyOutcome) => void)[] = [];

  constructor(private readonly discovery: DiscoveryService) {}

  /** The routes marked with @CountsOutcome report here: this app's controllers are bound to this instance. */
  onModuleInit(): void {
    for (const { instance } of this.discovery.getControllers()) {
      if (instance && typeof instance === 'object') reporters.set(instance, this);
    }
  }

  observe(observer: (outcome: VerifyOutcome) => void): void {
    this.observers.push(observer);
  }

  report(outcome: VerifyOutcome): void {
    for (const observer of this.observers) observer(outcome);
  }
}

/**
 * Marks a route that verifies or checks a code of `factor`: each call of the route runs in a span of
 * its own (see inVerifySpan) and its outcome – the answer, or the error it threw – is reported to the
 * app's VerifyOutcomes.
 *
 * A method decorator rather than an interceptor: an interceptor puts every call of these, the busiest
 * routes, through the framework's Observable pipeline (about a tenth of a `_check`'s CPU in profiles).
 * The route method is wrapped once, at class definition; what the decorators beneath this one recorded
 * on the method is carried over to the wrapper, so the router and the OpenAPI document see the same
 * route. Guards and pipes run before the route, as before: a request they refuse is no verdict on a code.
 */
export const CountsOutcome =
  (factor: VerifyFactor): MethodDecorator =>
  (_target, _key, descriptor: PropertyDescriptor) => {
    const route = descriptor.value as (...args: unknown[]) => unknown;
    const counted = function (this: object, ...args: unknown[]): Promise<unknown> {
      const outcomes = reporters.get(this);
      const report = (error?: unknown) => {
        const outcome = classifyVerify(error);
        if (outcome && outcomes) outcomes.report({ factor, ...outcome });
      };
      return inVerifySpan(
        factor,
        () => route.apply(this, args),
        (error) => classifyVerify(error)?.result,
      ).then(
        (value) => {
          report();
          return value;
        },
        (error: unknown) => {
          report(error);
          throw error;
        },
      );
    };
    for (const key of Reflect.getOwnMetadataKeys(route) as unknown[]) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, route), counted);
    }
    Object.defineProperty(counted, 'name', { value: route.name });
    descriptor.value = counted;
  };
