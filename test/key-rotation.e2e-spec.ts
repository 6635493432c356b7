import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { CodeHasher } from '../src/common/crypto/code-hasher';
import { rotateKeys, SEALED_COLUMNS, TableRotation } from '../src/common/crypto/key-rotation';
import { SecretBox } from '../src/common/crypto/secret-box';
import { createHuman, createMachine, createOrg, grantInstanceRoles, HumanFixture } from './helpers/factories';
import { spawnServer } from './helpers/server-process';
import { codeIn, SmtpSink, startSmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, INVALID_CODE, readyTotp, sql } from './helpers/totp';

const ROOT = path.resolve(__dirname, '..');
const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');
const CHALLENGES = '/internal/v1/mfa/totp-email';
const CONTEXT = { payment: { iban: 'CH9300762011623852957', amount: '1250.00' } };
const sms = (userId: string) => `/resources/v3alpha/users/${userId}/otp_sms`;
let counter = 0;
const newNumber = () => `+41792${String(++counter).padStart(6, '0')}`;

/** Every sealed value in the database, as `<table>:<key id>` (one entry per row). */
async function keyIds(t: TestApp): Promise<string[]> {
  const all: string[] = [];
  for (const c of SEALED_COLUMNS) {
    const rows = await sql<{ v: string }>(t, `SELECT ${c.column} AS v FROM ${c.table}`);
    for (const r of rows) all.push(`${c.table}:${r.v.split('.')[1]}`);
  }
  return all.sort();
}

const total = (report: TableRotation[], field: 'resealed' | 'remaining' | 'unreadable') =>
  report.reduce((n, r) => n + r[field], 0);

/**
 * Key rotation end to end: values sealed under k1, the service switched to k2 with k1 among the old
 * keys, `rotateKeys` (the logic of `npm run keys:rotate`) run in interrupted batches while requests
 * verify, then k1 removed: every factor still verifies, and a start without k1 before the rotation is refused.
 */
describe('key rotation', () => {
  let sink: SmtpSink;
  let a: TestApp; // k1
  let b: TestApp; // k2, k1 old
  let c: TestApp | undefined; // k2 only
  let issuer: { userId: string; token: string };
  const users: { user: HumanFixture; secret: string }[] = [];
  let smsUser: HumanFixture;
  let smsUsed: { id: string; number: string; code: string };
  let smsLeft: { id: string; code: string };
  let challenge: { id: string; code: string };

  const mailEnv = () => ({ MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url });
  const k2Env = (old: boolean) => ({
    ...mailEnv(),
    MASTER_KEY: K2,
    MASTER_KEY_ID: 'k2',
    ...(old ? { MASTER_KEYS_OLD: `k1:${K1}` } : {}),
  });
  const check = (t: TestApp, u: HumanFixture, code: string) =>
    t.http.post(`/v2/users/${u.userId}/totp/_check`).set(bearer(u.token)).send({ code });
  const smsCode = (t: TestApp, userId: string, id: string, action: '_check' | '_verify', code: string) =>
    t.http
      .post(`${sms(userId)}/${id}/${action}`)
      .set(bearer(t.adminToken))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(code));
  /** A sign-in code for a ready authenticator, returned to the admin (who may act for the user). */
  const smsChallenge = async (t: TestApp, userId: string, id: string) => {
    const res = await t.http
      .post(`${sms(userId)}/${id}/_challenge`)
      .set(bearer(t.adminToken))
      .send({ returnCode: {} });
    expect(res.status).toBe(200);
    return res.body.verificationCode as string;
  };
  const readySms = async (t: TestApp, userId: string, number: string) => {
    const res = await t.http.post(sms(userId)).set(bearer(t.adminToken)).send({ number, isVerified: true });
    expect(res.status).toBe(200);
    return res.body.otpSmsId as string;
  };
  const rotate = (t: TestApp, options: { batchSize?: number; maxBatches?: number } = {}) =>
    rotateKeys(t.app.get(DataSource), t.app.get(SecretBox), t.app.get(CodeHasher), options);

  beforeAll(async () => {
    sink = await startSmtpSink();
    a = await createTestApp({ env: { ...mailEnv(), MASTER_KEY: K1, MASTER_KEY_ID: 'k1' } });
    const org = await createOrg(a);
    issuer = await createMachine(a, org);
    await grantInstanceRoles(a, issuer.userId, ['MFA_CHALLENGE_ISSUER']);
    for (let i = 0; i < 4; i++) {
      const user = await createHuman(a, org);
      users.push({ user, secret: await readyTotp(a, user.userId, user.token) });
    }
    smsUser = users[0].user;
    const usedNumber = newNumber();
    smsUsed = { id: await readySms(a, smsUser.userId, usedNumber), number: usedNumber, code: '' };
    smsUsed.code = await smsChallenge(a, smsUser.userId, smsUsed.id);
    const left = await readySms(a, smsUser.userId, newNumber());
    smsLeft = { id: left, code: await smsChallenge(a, smsUser.userId, left) };
    const created = await a.http
      .post(CHALLENGES)
      .set(bearer(issuer.token))
      .send({ userId: smsUser.userId, operation: 'payment.approve', context: CONTEXT });
    expect(created.status).toBe(201);
    challenge = { id: created.body.challengeId as string, code: codeIn(sink.lastTo(smsUser.email)) };
  });
  afterAll(async () => {
    await c?.close();
    await b?.close();
    await a?.close();
    await sink?.close();
  });

  it('everything is sealed under k1 to begin with', async () => {
    expect(await keyIds(a)).toEqual([
      'email_challenge_contexts:k1',
      'otp_sms_authenticators:k1',
      'otp_sms_authenticators:k1',
      ...Array.from({ length: 4 }, () => 'totp_factors:k1'),
    ]);
  });

  it('refuses to start without k1 before the rotation, naming the key and its count (exit 78)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-rotation-'));
    try {
      const server = spawnServer({ ...a.env, ...k2Env(false), DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1' });
      // A server that starts anyway is stopped, so the test fails on its exit code instead of waiting.
      server.waitForLine(/listening on/).then(
        () => server.child.kill(),
        () => undefined,
      );
      const { code } = await server.exited;
      expect(code).toBe(78);
      expect(server.stderr()).toContain(
        'key k1: 7 stored values (4 in totp_factors, 2 in otp_sms_authenticators, 1 in email_challenge_contexts)',
      );
      expect(server.stdout.join('\n')).not.toContain('listening on');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with k2 current and k1 old, the values sealed and the codes sent under k1 still work', async () => {
    b = await createTestApp({ shareDbWith: a, now: a.clock.now(), env: k2Env(true) });
    expect((await check(b, users[0].user, codeAt(b, users[0].secret))).status).toBe(200);
    // The SMS code hashed under k1 before the switch verifies while k1 is configured.
    expect((await smsCode(b, smsUser.userId, smsUsed.id, '_check', smsUsed.code)).status).toBe(200);
    // So does the emailed code.
    const verified = await b.http
      .post(`${CHALLENGES}/${challenge.id}:verify`)
      .set(bearer(smsUser.token))
      .send({ totp: challenge.code });
    expect(verified.status).toBe(200);
    // A number added under k1 is still recognised (its hash is under k1 until rotated).
    const dup = await b.http
      .post(sms(smsUser.userId))
      .set(bearer(b.adminToken))
      .send({ number: smsUsed.number, isVerified: true });
    expect(dup.status).toBe(409);
    b.clock.advance(30_000);
  });

  it('an interrupted rotation stops after its batches; the next run carries on', async () => {
    const first = await rotate(b, { batchSize: 1, maxBatches: 2 });
    expect(total(first, 'resealed')).toBe(2);
    expect(total(first, 'remaining')).toBe(5);
    expect(first.find((r) => r.table === 'totp_factors')).toMatchObject({
      scanned: 2,
      resealed: 2,
      raced: 0,
      remaining: 2,
    });
    const second = await rotate(b, { batchSize: 2, maxBatches: 1 });
    expect(total(second, 'resealed')).toBe(2);
    expect(total(second, 'remaining')).toBe(3);
    expect((await keyIds(b)).filter((k) => k.endsWith(':k2'))).toHaveLength(4);
  });

  it('requests verifying while the rotation runs get the answers they would get without it', async () => {
    const rotation = rotate(b, { batchSize: 1 });
    const requests = users.flatMap(({ user, secret }) => [
      check(b, user, codeAt(b, secret)).then((r) => ({ expected: 200, r })),
      check(b, user, codeAt(b, secret, 5)).then((r) => ({ expected: 400, r })),
    ]);
    const [report, answers] = await Promise.all([rotation, Promise.all(requests)]);
    for (const { expected, r } of answers) {
      expect(r.status).toBe(expected);
      if (expected === 400) expect(r.body).toEqual(INVALID_CODE);
    }
    expect(total(report, 'remaining')).toBe(0);
    expect(total(report, 'unreadable')).toBe(0);
    expect(await keyIds(b)).not.toContainEqual(expect.stringMatching(/:k1$/));
    b.clock.advance(30_000);
  });

  it('a finished rotation is idempotent: npm run keys:rotate finds nothing left and says so per table', async () => {
    const out = await runRotateScript({ ...a.env, ...k2Env(true), DATA_DIR: os.tmpdir() });
    expect(out.code).toBe(0);
    for (const c of SEALED_COLUMNS)
      expect(out.stdout).toContain(`${c.table}: scanned 0, re-sealed 0, raced 0`);
    expect(out.stdout).toContain('every stored value is sealed under the current key');
  });

  it('with k1 removed the service starts, and every factor still verifies', async () => {
    c = await createTestApp({ shareDbWith: a, now: b.clock.now(), env: k2Env(false) });
    for (const { user, secret } of users) expect((await check(c, user, codeAt(c, secret))).status).toBe(200);
    // SMS: a new code is sent to the re-sealed number and checks.
    const fresh = await smsChallenge(c, smsUser.userId, smsUsed.id);
    expect((await smsCode(c, smsUser.userId, smsUsed.id, '_check', fresh)).status).toBe(200);
    // The number's hash moved to k2 as well: adding it again is still a duplicate.
    const dup = await c.http
      .post(sms(smsUser.userId))
      .set(bearer(c.adminToken))
      .send({ number: smsUsed.number, isVerified: true });
    expect(dup.status).toBe(409);
    // The step-up context sealed under k1 opens under k2.
    const consumed = await c.http.post(`${CHALLENGES}/${challenge.id}:consume`).set(bearer(issuer.token));
    expect(consumed.status).toBe(200);
    expect(consumed.body.context).toEqual(CONTEXT);
  });

  it('a code hashed under k1 and still outstanding when k1 leaves is invalid; a new one works', async () => {
    const stale = await smsCode(c!, smsUser.userId, smsLeft.id, '_check', smsLeft.code);
    expect(stale.status).toBe(400);
    c!.clock.advance(60_000);
    const fresh = await smsChallenge(c!, smsUser.userId, smsLeft.id);
    expect((await smsCode(c!, smsUser.userId, smsLeft.id, '_check', fresh)).status).toBe(200);
  });
});

/** Runs scripts/keys-rotate.ts as `npm run keys:rotate` runs its compiled form (ts-node, transpile only). */
function runRotateScript(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'scripts/keys-rotate.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}
