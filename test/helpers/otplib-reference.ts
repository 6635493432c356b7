import { generateSync, verifySync } from 'otplib';
import { TOTP_PARAMS, timeStep } from '../../src/totp/totp-algorithm';

/**
 * otplib's own answers (noble crypto) with the service's TOTP parameters: the reference the fast
 * routine of src/totp/totp-algorithm.ts is tested and benchmarked against. Not shipped with the service.
 */
const CODE_PATTERN = new RegExp(`^\\d{${TOTP_PARAMS.digits}}$`);

/** The time step whose code equals `code` within ±window of `nowMs` as otplib's verify sees it, or undefined. */
export function matchStepWithOtplib(secret: string, code: string, nowMs: number): number | undefined {
  const given = code.trim();
  if (!CODE_PATTERN.test(given)) return undefined;
  const result = verifySync({
    secret,
    token: given,
    algorithm: TOTP_PARAMS.algorithm,
    digits: TOTP_PARAMS.digits,
    period: TOTP_PARAMS.periodSeconds,
    epoch: Math.floor(nowMs / 1000),
    epochTolerance: TOTP_PARAMS.window * TOTP_PARAMS.periodSeconds,
  });
  return result.valid ? timeStep(nowMs) + result.delta : undefined;
}

/** otplib's code for a secret at an instant. */
export function totpCodeWithOtplib(secret: string, nowMs: number): string {
  return generateSync({
    secret,
    algorithm: TOTP_PARAMS.algorithm,
    digits: TOTP_PARAMS.digits,
    period: TOTP_PARAMS.periodSeconds,
    epoch: Math.floor(nowMs / 1000),
  });
}
