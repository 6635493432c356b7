import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { EmailChallengeRepository } from '../src/email-challenge/email-challenge.repository';
import { EmailChallengeSweeper, UNSENT_GRACE_MS } from '../src/email-challenge/email-challenge.sweeper';
import { EventStore } from '../src/common/events/event-store';
import {
  EMAIL_CHALLENGE_AGGREGATE,
  EmailChallengeEvents,
} from '../src/email-challenge/email-challenge.events';
import { TransactionRunner } from '../src/common/database/transaction-runner';
import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { codeIn, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { emailCode, zitadelError } from './helpers/error-bodies';
import { sql } from './helpers/totp';

const BASE = '/internal/v1/mfa/totp-email';
/** Short deadlines, so that a hanging provider is given up long before any of its own timeouts. */
const DEADLINE_MS = 400;

/** An SMS webhook that takes every request and never answers. */
async function hangingEndpoint(): Promise<{
  url: string;
  requests: () => number;
  close: () => Promise<void>;
}> {
  let requests = 0;
  const server: Server = createServer(() => requests++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a hanging SMS provider', () => {
  let t: TestApp;
  let hang: Awaited<ReturnType<typeof hangingEndpoint>>;
  let u: HumanFixture;

  beforeAll(async () => {
    hang = await hangingEndpoint();
    // SMS_TIMEOUT_MS and SMS_RETRIES at their defaults (5 s, 2 retries): only the deadline ends the send
    t = await createTestApp({
      env: { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: hang.url, SMS_SEND_DEADLINE_MS: String(DEADLINE_MS) },
    });
    u = await createHuman(t, await createOrg(t));
  });
  afterAll(async () => {
    await t?.close();
    await hang?.close();
  });

  it('answers 503 UNAVAILABLE at the send deadline, after one try, and stores nothing', async () => {
    const res = await t.http
      .post(`/resources/v3alpha/users/${u.userId}/otp_sms`)
      .set(bearer(u.token))
      .send({ number: '+41791239901' });
    expect(res.status).toBe(503);
    expect(res.body).toEqual(zitadelError(14, 'OTPSMS-Snd503', 'The SMS could not be sent, try again later'));
    expect(res.headers['x-request-id']).toBeDefined();
    // one try, cut off by the deadline (whether its request got through before that is up to the machine)
    expect(hang.requests()).toBeLessThanOrEqual(1);
    expect(await sql(t, 'SELECT id FROM otp_sms_authenticators WHERE user_id = $1', [u.userId])).toEqual([]);
    expect(t.logs.join('\n')).toMatch(/send deadline of 400 ms passed \(attempts: 1\)/);
  });
});

describe('a slow SMTP relay', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let u: HumanFixture;

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({
      env: { MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url, MAIL_SEND_DEADLINE_MS: String(DEADLINE_MS) },
    });
    u = await createHuman(t, await createOrg(t));
  });
  afterAll(async () => {
    sink?.release();
    await t?.close();
    await sink?.close();
  });

  const create = () =>
    t.http
      .post(BASE)
      .set(bearer(u.token))
      .send({ userId: u.userId, operation: 'payment.approve', context: { amount: 1 } });
  const rows = async () =>
    sql<{ id: string; status: string }>(t, 'SELECT id, status FROM email_challenges WHERE user_id = $1', [
      u.userId,
    ]);

  it('stalled before the message: 503 at the deadline, no challenge, and the relay never gets the mail', async () => {
    sink.stall('rcpt');
    const before = sink.messages.length;
    const closed = sink.nextClose();
    const res = await create();
    expect(res.status).toBe(503);
    expect(res.body.code).toBe(emailCode('INTERNAL_SERVER_ERROR'));
    expect(await rows()).toEqual([]);
    // the relay wakes up: the connection is gone, the message never reaches it
    sink.release();
    await closed;
    expect(sink.messages.length).toBe(before);
  }, 15_000);

  it('stalled after the whole message: 201 at the deadline, the challenge stays and the delivered code verifies', async () => {
    sink.stall('data-end');
    const received = sink.dataReceived();
    const res = await create();
    expect(res.status).toBe(201);
    await received;
    const id = res.body.challengeId as string;
    expect(await rows()).toEqual([{ id, status: 'PENDING' }]);
    sink.release();
    const verified = await t.http
      .post(`${BASE}/${id}:verify`)
      .set(bearer(u.token))
      .send({ totp: codeIn(sink.lastTo(u.email)) });
    expect(verified.status).toBe(200);
  });

  it('a challenge left unsent by a process that died during the send is removed by the sweeper', async () => {
    const repo = t.app.get(EmailChallengeRepository);
    const now = t.clock.now();
    const id = '999999999999999001';
    // what a create writes before its send
    const creation = repo.creation(
      {
        id,
        userId: u.userId,
        orgId: u.orgId,
        operation: 'payment.approve',
        status: 'PENDING',
        codeHash: 'x'.repeat(64),
        generation: 1,
        attempts: 0,
        maxAttempts: 5,
        ttlSeconds: 300,
        expiresAt: now + 300_000,
        lastSentAt: now,
        verifiedAt: null,
        consumedAt: null,
        createdAt: now,
      },
      { amount: 1 },
    );
    await t.app.get(TransactionRunner).run((em) =>
      t.app.get(EventStore).changeAndAppend(em, creation, {
        aggregateType: EMAIL_CHALLENGE_AGGREGATE,
        aggregateId: id,
        resourceOwner: u.orgId,
        creator: u.userId,
        eventType: EmailChallengeEvents.added,
      }),
    );
    // invisible to every reader while unsent
    expect((await t.http.get(`${BASE}/${id}`).set(bearer(t.adminToken))).status).toBe(404);
    const sweeper = t.app.get(EmailChallengeSweeper);
    expect((await sweeper.sweep(now + DEADLINE_MS)).unsent).toBe(0);
    expect((await sweeper.sweep(now + DEADLINE_MS + UNSENT_GRACE_MS + 1)).unsent).toBe(1);
    expect(await sql(t, 'SELECT id FROM email_challenges WHERE id = $1', [id])).toEqual([]);
    expect(
      await sql(t, 'SELECT challenge_id FROM email_challenge_contexts WHERE challenge_id = $1', [id]),
    ).toEqual([]);
  });
});
