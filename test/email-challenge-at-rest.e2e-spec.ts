import { DataSource } from 'typeorm';
import { SealStepUpContexts1795400000000 } from '../src/common/database/migrations/1795400000000-SealStepUpContexts';
import { createHuman, createMachine, createOrg, grantInstanceRoles, HumanFixture } from './helpers/factories';
import { codeIn, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { sql } from './helpers/totp';

const BASE = '/internal/v1/mfa/totp-email';
const CONTEXT = { payment: { iban: 'CH9300762011623852957', amount: '1250.00' } };

describe('email challenges at rest', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let alice: HumanFixture;
  let issuer: { userId: string; token: string };

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({ env: { MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url } });
    const org = await createOrg(t);
    alice = await createHuman(t, org);
    issuer = await createMachine(t, org);
    await grantInstanceRoles(t, issuer.userId, ['MFA_CHALLENGE_ISSUER']);
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  /** A verified challenge of alice holding CONTEXT. */
  async function verified(): Promise<string> {
    const res = await t.http
      .post(BASE)
      .set(bearer(issuer.token))
      .send({ userId: alice.userId, operation: 'payment.approve', context: CONTEXT });
    expect(res.status).toBe(201);
    const id = res.body.challengeId as string;
    const ok = await t.http
      .post(`${BASE}/${id}:verify`)
      .set(bearer(alice.token))
      .send({ totp: codeIn(sink.lastTo(alice.email)) });
    expect(ok.status).toBe(200);
    return id;
  }
  const stored = async (id: string) =>
    (
      await sql<{ context: string }>(
        t,
        'SELECT context FROM email_challenge_contexts WHERE challenge_id = $1',
        [id],
      )
    )[0].context;
  const consume = (id: string) => t.http.post(`${BASE}/${id}:consume`).set(bearer(issuer.token));

  it('stores the request context sealed: no plaintext in the column, the consumer gets it back', async () => {
    const id = await verified();
    const column = await stored(id);
    for (const plain of ['CH9300762011623852957', '1250.00', 'iban', 'payment'])
      expect(column).not.toContain(plain);
    expect(column).toMatch(/^v1\./);
    const res = await consume(id);
    expect(res.status).toBe(200);
    expect(res.body.context).toEqual(CONTEXT);
  });

  it('the migration seals contexts stored in plaintext before it (and down opens them again)', async () => {
    const id = await verified();
    // a row as an earlier version stored it
    await sql(t, 'UPDATE email_challenge_contexts SET context = $1 WHERE challenge_id = $2', [
      JSON.stringify(CONTEXT),
      id,
    ]);
    const qr = t.app.get(DataSource).createQueryRunner();
    try {
      const migration = new SealStepUpContexts1795400000000();
      await migration.up(qr);
      const sealed = await stored(id);
      expect(sealed).toMatch(/^v1\./);
      expect(sealed).not.toContain('CH93');
      await migration.up(qr); // idempotent: sealed rows are left alone
      expect(await stored(id)).toBe(sealed);
      await migration.down(qr);
      expect(JSON.parse(await stored(id))).toEqual(CONTEXT);
      await migration.up(qr);
    } finally {
      await qr.release();
    }
    const res = await consume(id);
    expect(res.status).toBe(200);
    expect(res.body.context).toEqual(CONTEXT);
  });
});

describe('email challenge ids', () => {
  let t: TestApp;
  let alice: HumanFixture;
  beforeAll(async () => {
    t = await createTestApp();
    alice = await createHuman(t, await createOrg(t));
  });
  afterAll(async () => t?.close());

  it('are random: 20 base64url characters (120 bits), not ordered by time', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await t.http
        .post(BASE)
        .set(bearer(alice.token))
        .send({ userId: alice.userId, operation: 'payment.approve' });
      expect(res.status).toBe(201);
      ids.push(res.body.challengeId as string);
    }
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // time-ordered ids sort in creation order; 12 random ones do so once in 12! (about 5·10^8)
    expect([...ids].sort()).not.toEqual(ids);
  });
});
