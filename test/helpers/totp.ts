import { SecretBox } from '../../src/common/crypto/secret-box';
import { rawQuery } from '../../src/common/database/db-dialect';
import { TransactionRunner } from '../../src/common/database/transaction-runner';
import { totpCode } from '../../src/totp/totp-algorithm';
import { DataSource } from 'typeorm';
import { zitadelError, zitadelInvalid } from './error-bodies';
import { bearer, TestApp } from './test-app';

/** A wrong TOTP code (also a replayed or too old step). */
export const INVALID_CODE = zitadelError(3, 'EVENT-8isk2', 'Invalid code');
/** No TOTP for the user (the id names the command that looked). */
export const NOT_EXISTING = (id: string) =>
  zitadelError(5, id, "Multifactor OTP (OneTimePassword) doesn't exist");
/** The code field's validation error of a request message (e.g. `VerifyTOTPRegistrationRequest`). */
export const CODE_LENGTH = (msg: string) =>
  zitadelInvalid(`invalid ${msg}.Code: value length must be between 1 and 200 runes, inclusive`);

/** The v2 User Service TOTP routes of a user: `/v2/users/:userId/totp[suffix]`. */
export const totpV2 = (userId: string, suffix = '') => `/v2/users/${userId}/totp${suffix}`;
/** The v1 Auth API TOTP routes (the token's own user). */
export const TOTP_V1 = '/auth/v1/users/me/auth_factors/otp';

/**
 * The app of the TOTP life-cycle and _check suites: attempt limits have their own suite (totp-limits);
 * here they must not get in the way of the failure cases.
 */
export const TOTP_ENV = { TOTP_ISSUER: 'ACME Login', OTP_MAX_ATTEMPTS: '100' };

/** The code of a secret at the app's (fake) now, shifted by `steps` periods. */
export const codeAt = (t: TestApp, secret: string, steps = 0) =>
  totpCode(secret, t.clock.now() + steps * 30_000);

/** Registers and verifies a TOTP for a user (acting as the user); returns the secret. */
export async function readyTotp(t: TestApp, userId: string, token: string): Promise<string> {
  const reg = await t.http.post(`/v2/users/${userId}/totp`).set(bearer(token)).send({});
  if (reg.status !== 200) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  const secret = reg.body.secret as string;
  const ver = await t.http
    .post(`/v2/users/${userId}/totp/verify`)
    .set(bearer(token))
    .send({ code: codeAt(t, secret) });
  if (ver.status !== 200) throw new Error(`verify: ${ver.status} ${JSON.stringify(ver.body)}`);
  // The verifying step is consumed: later checks need a later step.
  t.clock.advance(30_000);
  return secret;
}

export async function sql<T = Record<string, unknown>>(
  t: TestApp,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  return (await rawQuery<T>(t.app.get(DataSource), text, params)).rows;
}

/** Replaces a user's TOTP secret in the database (sealed as the service seals it), e.g. with an RFC test secret. */
export async function plantSecret(t: TestApp, userId: string, secret: string): Promise<void> {
  const sealed = t.app.get(SecretBox).seal(secret, userId);
  await t.app
    .get(TransactionRunner)
    .run((em) =>
      rawQuery(em, `UPDATE totp_factors SET secret_sealed = $1 WHERE user_id = $2`, [sealed, userId]),
    );
}
