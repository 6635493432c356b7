import { SecretBox } from '../../src/common/crypto/secret-box';
import { rawQuery } from '../../src/common/database/db-dialect';
import { TransactionRunner } from '../../src/common/database/transaction-runner';
import { totpCode } from '../../src/totp/totp-algorithm';
import { bearer, TestApp } from './test-app';
import { DataSource } from 'typeorm';

/** The ZITADEL error detail entry for an error id. */
export const zitadelError = (code: number, id: string, text: string) => ({
  code,
  message: `${text} (${id})`,
  details: [{ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id, message: text }],
});

export const INVALID_CODE = zitadelError(3, 'EVENT-8isk2', 'Invalid code');

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
