import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  Optional,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config';
import { Errors } from '../errors/domain-error';
import { GuardRequest, readTarget } from './auth.guard';
import { TargetRef } from './decorators';

export const STEP_UP_KEY = 'mfa:step-up';
export const STEP_UP_HEADER = 'X-Step-Up-Challenge';

/** Why a step-up challenge was not accepted (said in the 403 message; never leaks other users' data). */
export type StepUpRefusal =
  | 'unknown'
  | 'other-user'
  | 'other-operation'
  | 'not-verified'
  | 'expired'
  | 'locked'
  | 'already-consumed'
  | 'context-purged';

export type StepUpOutcome = { ok: true } | { ok: false; reason: StepUpRefusal };

/**
 * The port through which the step-up guard claims a verified challenge. The email-challenge module
 * implements it (and exports it to AppModule, where the guard lives); common auth only knows this contract.
 */
export abstract class StepUpVerifier {
  /**
   * Atomically consumes the challenge `challengeId` if it is VERIFIED, belongs to `userId` and was
   * issued for `operation`. A challenge can be consumed once, by a step-up or by the `:consume` API.
   */
  abstract consumeStepUp(challengeId: string, userId: string, operation: string): Promise<StepUpOutcome>;
}

export interface StepUpSpec {
  operation: string;
  /**
   * The user the route acts on. Step-up is demanded only when that user is the caller (acting on
   * oneself); an administrator acting on another user is not asked. Without a target the route
   * always acts on the caller (`/auth/v1/users/me/...`).
   */
  target?: TargetRef;
  /** Whether the demand is switched on (read from the config per request); default always. */
  when?: (config: AppConfig) => boolean;
}

/**
 * Demands a step-up: the request must carry `X-Step-Up-Challenge: <challengeId>` naming a VERIFIED
 * email challenge of the caller for `operation`; the guard consumes it before the handler runs
 * (so a challenge serves one request, even if the handler then fails).
 */
export function RequireStepUp(operation: string, opts: Omit<StepUpSpec, 'operation'> = {}) {
  const spec: StepUpSpec = { operation, ...opts };
  return applyDecorators(
    SetMetadata(STEP_UP_KEY, spec),
    ApiHeader({
      name: STEP_UP_HEADER,
      required: false,
      description: `Id of a verified email challenge for operation \`${operation}\`; required when step-up is enabled and the caller acts on itself.`,
    }),
  );
}

/** Step-up for removing one's own second factor, switched on by STEP_UP_FOR_FACTOR_REMOVAL. */
export const RequireStepUpForFactorRemoval = (target?: TargetRef) =>
  RequireStepUp('mfa.factor.remove', { target, when: (c) => c.challenge.stepUpForFactorRemoval });

const REASONS: Record<StepUpRefusal, string> = {
  unknown: 'the caller has no challenge with this id',
  'other-user': 'the challenge belongs to another user',
  'other-operation': 'the challenge was issued for another operation',
  'not-verified': 'the challenge is not verified',
  expired: 'the challenge has expired',
  locked: 'the challenge is locked',
  'already-consumed': 'the challenge has already been used',
  'context-purged': 'the challenge is no longer available',
};

export const STEP_UP_REQUIRED = (operation: string, why?: StepUpRefusal) =>
  Errors.permissionDenied(
    'AUTH-StepUp1',
    `Step-up authentication required: send header ${STEP_UP_HEADER} with the id of a verified email challenge for operation ${operation}` +
      (why ? ` (${REASONS[why]})` : ''),
  );

/**
 * Global guard, registered after AuthGuard (it needs the principal). Routes without
 * `@RequireStepUp` pass untouched.
 */
@Injectable()
export class StepUpGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
    @Optional() private readonly verifier?: StepUpVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const spec = this.reflector.getAllAndOverride<StepUpSpec | undefined>(STEP_UP_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!spec) return true;
    if (spec.when && !spec.when(this.config)) return true;
    const req = context.switchToHttp().getRequest<GuardRequest>();
    const principal = req.principal;
    if (!principal) throw STEP_UP_REQUIRED(spec.operation);
    if (spec.target && readTarget(req, spec.target) !== principal.userId) return true;
    const raw = req.headers[STEP_UP_HEADER.toLowerCase()];
    const challengeId = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!challengeId) throw STEP_UP_REQUIRED(spec.operation);
    // Fail closed when no module implements the port.
    if (!this.verifier) throw STEP_UP_REQUIRED(spec.operation, 'unknown');
    const outcome = await this.verifier.consumeStepUp(challengeId, principal.userId, spec.operation);
    if (!outcome.ok) throw STEP_UP_REQUIRED(spec.operation, outcome.reason);
    return true;
  }
}
