/**
 * Every seed operation, every sign-in check and the create/challenge/send paths under load, side by
 * side with `_check` and the raw baseline (the floor, bench/raw-baseline.ts) in the same run, on
 * SQLite with SQLITE_SYNCHRONOUS=normal, SQLite with full and PostgreSQL (TEST_DATABASE_URL; an own
 * schema per run, dropped after), for each HTTP adapter. Each operation is its own autocannon run
 * (50 connections) whose every request is valid and fresh: what it needs (users, NOT_READY factors,
 * pending codes, PENDING challenges, the callers' own tokens) is written directly into the database
 * before the run (bench/seed-db.ts), never through the timed path. Then an RSS run (`_check` for
 * BENCH_RSS_SECONDS) and a scaling run (`_check` and verify 000 at each BENCH_SCALE_USERS size).
 *
 * The SMS provider (SMS_PROVIDER=webhook) and the mail relay (MAIL_TRANSPORT=smtp) are sinks in this
 * process that answer at once, so the create/send figures leave the provider's own time aside. The
 * operations that reach a provider run a second time in every round against a second instance of the
 * service on the same database whose transports only log (MAIL_TRANSPORT=log, SMS_PROVIDER=log): the
 * "provider aside" rows, the same request without the provider call (the SMTP dialogue or the webhook
 * POST). The targets of those operations ("the provider call aside") are judged there. An operation
 * that asks for a security notice runs a third time, on an instance that sends no notices
 * (NOTIFY_EVENTS=none): its "notice aside" row, the request on its own, judged on its own target; the
 * line under the table gives what the notice adds, judged as a send (the notice is a mail the worker
 * sends after the answer).
 *
 * Env: BENCH_DB (sqlite-normal,sqlite-full,postgres), BENCH_ADAPTERS (fastify,express), BENCH_OPS
 * (operation names, see OPS), BENCH_SECONDS (3, per operation and round), BENCH_ROUNDS (3: the
 * operations take turns in that many rounds), BENCH_RSS_SECONDS (60; 0 skips), BENCH_SCALE_USERS
 * (30000,1000000; 0 skips), BENCH_WARMUP_SECONDS (unmeasured load per operation first, 1),
 * BENCH_PRIME_REQUESTS (unmeasured requests right before each measured run, 1200), BENCH_PAUSE_SECONDS (idle
 * time before each prime, 0), BENCH_NODE_FLAGS (more Node/V8 flags for every server), BENCH_SEED_RATE (fresh items seeded per second of load and operation, 8000),
 * BENCH_SCALE_ROUNDS (2), BENCH_NOTIFY_EVENTS (the service's NOTIFY_EVENTS, default all; `none` leaves the notification worker out).
 * Run alone: npx ts-node --transpile-only bench/seed-ops.bench.ts
 */
import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { SMTPServer } from 'smtp-server';
import { stepUpContextAad } from '../src/email-challenge/entities/email-challenge-context.entity';
import { decodeSecret, hotp, newTotpSecret, timeStep } from '../src/totp/totp-algorithm';
import { benchCrypto, digits, numericId, openSeedDb, patRow, Row, SeedDb, uniquePhone } from './seed-db';
import {
  BenchRequest,
  BenchUser,
  BUILD,
  CodeSource,
  compile,
  CONNECTIONS,
  cpuMs,
  freePort,
  LoadResult,
  loadRequests,
  runFloor,
  start,
  stop,
  waitReady,
} from './totp-check.bench';

const ROOT = path.resolve(__dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const RSS_SECONDS = Number(process.env.BENCH_RSS_SECONDS ?? 60);
const SEED_RATE = Number(process.env.BENCH_SEED_RATE ?? 8000);
/** Unmeasured load per operation before the measured runs, so no figure pays for the JIT's warm-up. */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
/**
 * Unmeasured requests right before every measured run, on the instance it measures, of the same kind.
 * An instance sits idle while the others' rows run (an aside instance for most of a round, the floor
 * for all of it but its own row), and V8 uses an idle process's time to give memory back: its memory
 * reducer shrinks the young generation and ages unused bytecode out. The first requests after that pay
 * for growing the heap and compiling again. Measured on sqlite-normal with 25 s of idle before each row
 * (BENCH_PAUSE_SECONDS=25), that cost a recovery `_check` row 40–70 % more CPU, and it went away with
 * `--no-memory-reducer --no-flush-bytecode`. A row measures the request in steady state, as the main
 * instance serves it in a long run: the prime restores that state without changing the service's
 * flags. It is a number of requests, not a time: half a second primed `_check` (about 1 200 requests)
 * but not an SMS `_challenge` on PostgreSQL (about 250), whose provider-aside row then cost 1.8× the
 * same row after 2 s.
 */
const PRIME_REQUESTS = Math.max(0, Math.floor(Number(process.env.BENCH_PRIME_REQUESTS ?? 1200)));
/** Idle time before every measured run and its prime: 0, or a test of how well the prime works. */
const PAUSE_SECONDS = Number(process.env.BENCH_PAUSE_SECONDS ?? 0);
/**
 * Rounds per table: every operation (and the floor) runs SECONDS at a time, in turn, ROUNDS times, and
 * each ratio is the median of the ratios within a round – so a drift of the machine during a table
 * (other load, clock, heat) moves the yardstick together with what it measures. A round is not made
 * shorter instead: the first requests of a run wait for 50 new connections, which would weigh on the p99.
 */
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 3)));
/**
 * Populations of the scaling run. The smallest is 30 000, not 1 000: a user's TOTP code succeeds once
 * per 30-second step (replay protection), so 1 000 users feed about 1 000 checks, less than the
 * warm-up alone takes at 50 connections, and 10 000 users (about 20 000 checks) ran out within two
 * rounds at 6 000 checks a second; a run that runs out is not compared (see scaleRun).
 */
const SCALE_USERS = (process.env.BENCH_SCALE_USERS ?? '30000,1000000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
/**
 * Rounds of the scaling run (BENCH_SCALE_ROUNDS, 2): the sizes take turns, and the smallest population
 * feeds about 60 000 fresh checks in the first 30-second step (two steps per user), about what three
 * rounds use at 6 000 checks a second.
 */
const SCALE_ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_SCALE_ROUNDS ?? 2)));
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'fastify,express')
  .split(',')
  .map((a) => a.trim())
  .filter(Boolean);

type SettingName = 'sqlite-normal' | 'sqlite-full' | 'postgres';
const SETTINGS: SettingName[] = ['sqlite-normal', 'sqlite-full', 'postgres'];

/** The cost class of an operation: what its CPU ratio to `_check` is held to. */
type Kind = 'floor' | 'check' | 'verify' | 'create';
const CPU_TARGET: Record<Kind, number | undefined> = { floor: undefined, check: 1.5, verify: 1.5, create: 3 };

interface SeedContext {
  db: SeedDb;
  box: ReturnType<typeof benchCrypto>['box'];
  hasher: ReturnType<typeof benchCrypto>['hasher'];
  template: Row;
  orgId: string;
  adminToken: string;
  now: number;
}

type Next = () => BenchRequest | undefined;

interface Op {
  name: string;
  kind: Exclude<Kind, 'floor'>;
  route: string;
  /**
   * The provider call the operation makes: in the request (the code's SMS or mail), or afterwards by
   * the notification worker (a security notice). Either gets a "provider aside" row as well. For a
   * notice, the CPU its delivery takes after the run's window counts towards the operation's CPU.
   */
  provider?: 'request' | 'notice';
  /** Seeds what `n` requests need, returns their maker (one-shot items: undefined once used up). */
  seed(ctx: SeedContext, n: number): Promise<Next>;
}

// --- seeding helpers --------------------------------------------------------------------------

/** Human users cloned from the template, each with its own id, username, verified email and phone. */
function users(ctx: SeedContext, n: number): Row[] {
  return Array.from({ length: n }, () => {
    const id = numericId();
    return {
      ...ctx.template,
      id,
      username: `seed-${id}`,
      email: `u${id}@example.com`,
      email_verified: ctx.db.bool(true),
      phone: uniquePhone(),
      phone_verified: ctx.db.bool(true),
      created_at: ctx.now,
    };
  });
}

function totpRow(ctx: SeedContext, userId: string, state: 'READY' | 'NOT_READY', lastStep: number) {
  const secret = newTotpSecret();
  return {
    key: decodeSecret(secret),
    row: {
      user_id: userId,
      org_id: ctx.orgId,
      state,
      secret_sealed: ctx.box.seal(secret, userId),
      last_step: lastStep,
      failed_attempts: 0,
      window_started_at: 0,
      lockouts: 0,
      locked_until: 0,
      created_at: ctx.now,
      updated_at: ctx.now,
    },
  };
}

/** Far enough ahead that no seeded code expires during the whole run. */
const expiresAt = (ctx: SeedContext) => ctx.now + 6 * 3600_000;

/** Each item once, in order. */
function once<T>(items: T[], make: (item: T) => BenchRequest): Next {
  let i = 0;
  return () => (i < items.length ? make(items[i++]) : undefined);
}

/** The items round and round (for repeatable operations). */
function cycle<T>(items: T[], make: (item: T) => BenchRequest): Next {
  let i = 0;
  return () => make(items[i++ % items.length]);
}

const json = (v: unknown) => JSON.stringify(v);

/** v3alpha OTP SMS authenticators, each for a user of its own; with a pending code when `withCode`. */
async function seedSmsAuthenticators(
  ctx: SeedContext,
  n: number,
  state: 'PENDING' | 'READY',
  withCode: boolean,
): Promise<{ userId: string; id: string; code: string }[]> {
  const us = users(ctx, n);
  const out: { userId: string; id: string; code: string }[] = [];
  const rows = us.map((u) => {
    const id = numericId();
    const code = digits(6);
    out.push({ userId: u.id as string, id, code });
    return {
      id,
      user_id: u.id,
      number_hash: ctx.hasher.hash(u.phone as string, 'otp-sms:number'),
      number_sealed: ctx.box.seal(u.phone as string, id),
      state,
      code_hash: withCode ? ctx.hasher.hash(code, `otp-sms:${id}:1`) : null,
      code_generation: withCode ? 1 : 0,
      code_expires_at: withCode ? expiresAt(ctx) : null,
      code_attempts: 0,
      last_code_at: withCode ? ctx.now - 3600_000 : null,
      created_at: ctx.now,
      changed_at: ctx.now,
    };
  });
  await ctx.db.insertAll([
    ['users', us],
    ['otp_sms_authenticators', rows],
  ]);
  return out;
}

/** v2 OTP SMS / OTP Email factors; with a pending code (purpose `otp-sms` / `otp-email`) when `withCode`. */
async function seedChannel(
  ctx: SeedContext,
  n: number,
  channel: 'sms' | 'email',
  withCode: boolean,
): Promise<{ userId: string; code: string }[]> {
  const us = users(ctx, n);
  const purpose = channel === 'sms' ? 'otp-sms' : 'otp-email';
  const out: { userId: string; code: string }[] = [];
  const codes: Row[] = [];
  for (const u of us) {
    const codeId = randomBytes(15).toString('base64url');
    const code = digits(6);
    out.push({ userId: u.id as string, code });
    codes.push({
      purpose,
      user_id: u.id,
      code_id: codeId,
      code_hash: ctx.hasher.hash(code, `${purpose}:${u.id as string}:${codeId}`),
      expires_at: expiresAt(ctx),
      attempts: 0,
      sent_at: ctx.now - 3600_000,
    });
  }
  await ctx.db.insertAll([
    ['users', us],
    ['otp_channel_factors', us.map((u) => ({ user_id: u.id, channel, created_at: ctx.now }))],
    ['one_time_codes', withCode ? codes : []],
  ]);
  return out;
}

/** Users with a NOT_READY (or READY) TOTP, and a token of their own when `pat`. */
async function seedTotp(
  ctx: SeedContext,
  n: number,
  state: 'READY' | 'NOT_READY',
  pat: boolean,
): Promise<(BenchUser & { token?: string })[]> {
  const us = users(ctx, n);
  const lastStep = state === 'READY' ? timeStep(ctx.now) - 2 : 0;
  const factors: Row[] = [];
  const pats: Row[] = [];
  const out = us.map((u) => {
    const { key, row } = totpRow(ctx, u.id as string, state, lastStep);
    factors.push(row);
    const p = pat ? patRow(u.id as string, ctx.now) : undefined;
    if (p) pats.push(p.row);
    return { userId: u.id as string, key, lastStep, token: p?.token };
  });
  await ctx.db.insertAll([
    ['users', us],
    ['totp_factors', factors],
    ['personal_access_tokens', pats],
  ]);
  return out;
}

/** Repeatable operations go round a pool of this many items at most (every item stays valid). */
const cyclePool = (n: number) => Math.min(n, 5000);

// --- the operations ---------------------------------------------------------------------------

const OPS: Op[] = [
  {
    name: '_check',
    kind: 'check',
    route: 'POST /v2/users/{id}/totp/_check',
    async seed(ctx, n) {
      const source = new CodeSource(await seedTotp(ctx, Math.ceil(n / 2), 'READY', false));
      return () => {
        const before = source.exhausted;
        const { userId, code } = source.next();
        if (source.exhausted > before) return undefined;
        return { path: `/v2/users/${userId}/totp/_check`, body: json({ code }), token: ctx.adminToken };
      };
    },
  },
  {
    name: '000 verify',
    kind: 'verify',
    route: 'POST /v2/users/{userId}/totp/verify',
    async seed(ctx, n) {
      return once(await seedTotp(ctx, n, 'NOT_READY', false), (u) => ({
        path: `/v2/users/${u.userId}/totp/verify`,
        body: json({ code: hotp(u.key, timeStep(Date.now())) }),
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: '001 verify (me)',
    kind: 'verify',
    route: 'POST /auth/v1/users/me/auth_factors/otp/_verify',
    async seed(ctx, n) {
      return once(await seedTotp(ctx, n, 'NOT_READY', true), (u) => ({
        path: '/auth/v1/users/me/auth_factors/otp/_verify',
        body: json({ code: hotp(u.key, timeStep(Date.now())) }),
        token: u.token,
      }));
    },
  },
  {
    name: '002 verify (v3alpha SMS)',
    kind: 'verify',
    route: 'POST /resources/v3alpha/users/{id}/otp_sms/{otpSmsId}/_verify',
    async seed(ctx, n) {
      return once(await seedSmsAuthenticators(ctx, n, 'PENDING', true), (a) => ({
        path: `/resources/v3alpha/users/${a.userId}/otp_sms/${a.id}/_verify`,
        body: json(a.code),
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: '003 verify (email challenge)',
    kind: 'verify',
    route: 'POST /internal/v1/mfa/totp-email/{challengeId}:verify',
    async seed(ctx, n) {
      const us = users(ctx, n);
      const challenges: Row[] = [];
      const contexts: Row[] = [];
      const pats: Row[] = [];
      const items = us.map((u) => {
        const id = randomBytes(15).toString('base64url');
        const code = digits(6);
        const p = patRow(u.id as string, ctx.now);
        pats.push(p.row);
        challenges.push({
          id,
          user_id: u.id,
          org_id: ctx.orgId,
          operation: 'bench.approve',
          status: 'PENDING',
          code_hash: ctx.hasher.hash(code, `email-challenge:${id}:1`),
          generation: 1,
          attempts: 0,
          max_attempts: 5,
          ttl_seconds: 600,
          expires_at: expiresAt(ctx),
          last_sent_at: ctx.now,
          verified_at: null,
          consumed_at: null,
          created_at: ctx.now,
        });
        contexts.push({ challenge_id: id, context: ctx.box.seal('{}', stepUpContextAad(id)) });
        return { id, code, token: p.token };
      });
      await ctx.db.insertAll([
        ['users', us],
        ['personal_access_tokens', pats],
        ['email_challenges', challenges],
        ['email_challenge_contexts', contexts],
      ]);
      return once(items, (c) => ({
        path: `/internal/v1/mfa/totp-email/${c.id}:verify`,
        body: json({ totp: c.code }),
        token: c.token,
      }));
    },
  },
  {
    name: 'OTP SMS _check (v3alpha)',
    kind: 'check',
    route: 'POST /resources/v3alpha/users/{id}/otp_sms/{otpSmsId}/_check',
    async seed(ctx, n) {
      return once(await seedSmsAuthenticators(ctx, n, 'READY', true), (a) => ({
        path: `/resources/v3alpha/users/${a.userId}/otp_sms/${a.id}/_check`,
        body: json(a.code),
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'OTP SMS _check (v2)',
    kind: 'check',
    route: 'POST /v2/users/{id}/otp_sms/_check',
    async seed(ctx, n) {
      return once(await seedChannel(ctx, n, 'sms', true), (u) => ({
        path: `/v2/users/${u.userId}/otp_sms/_check`,
        body: json({ code: u.code }),
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'OTP Email _check (v2)',
    kind: 'check',
    route: 'POST /v2/users/{id}/otp_email/_check',
    async seed(ctx, n) {
      return once(await seedChannel(ctx, n, 'email', true), (u) => ({
        path: `/v2/users/${u.userId}/otp_email/_check`,
        body: json({ code: u.code }),
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'recovery code _check',
    kind: 'check',
    provider: 'notice',
    route: 'POST /v2/users/{id}/recovery_codes/_check',
    async seed(ctx, n) {
      const us = users(ctx, n);
      const alphabet = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
      const items = us.map((u) => {
        const raw = Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
        return { userId: u.id as string, raw, code: `${raw.slice(0, 5)}-${raw.slice(5)}` };
      });
      await ctx.db.insertAll([
        ['users', us],
        [
          'recovery_code_sets',
          items.map((i) => ({ user_id: i.userId, attempts: 0, window_started_at: 0, created_at: ctx.now })),
        ],
        [
          'recovery_codes',
          items.map((i) => ({
            user_id: i.userId,
            code_hash: ctx.hasher.hash(i.raw, `recovery-code:${i.userId}`),
          })),
        ],
      ]);
      return once(items, (i) => ({
        path: `/v2/users/${i.userId}/recovery_codes/_check`,
        body: json({ code: i.code }),
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'TOTP register',
    kind: 'create',
    provider: 'notice',
    route: 'POST /v2/users/{id}/totp (on NOT_READY)',
    async seed(ctx, n) {
      return cycle(await seedTotp(ctx, cyclePool(n), 'NOT_READY', false), (u) => ({
        path: `/v2/users/${u.userId}/totp`,
        body: '{}',
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'email challenge create',
    kind: 'create',
    provider: 'request',
    route: 'POST /internal/v1/mfa/totp-email (SMTP)',
    async seed(ctx, n) {
      const us = users(ctx, cyclePool(n));
      await ctx.db.insert('users', us);
      return cycle(us, (u) => ({
        path: '/internal/v1/mfa/totp-email',
        body: json({ userId: u.id, operation: 'bench.approve' }),
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'OTP SMS _challenge (v3alpha)',
    kind: 'create',
    provider: 'request',
    route: 'POST /resources/v3alpha/users/{id}/otp_sms/{otpSmsId}/_challenge (webhook)',
    async seed(ctx, n) {
      return cycle(await seedSmsAuthenticators(ctx, cyclePool(n), 'READY', false), (a) => ({
        path: `/resources/v3alpha/users/${a.userId}/otp_sms/${a.id}/_challenge`,
        body: '{}',
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'OTP SMS _send (v2)',
    kind: 'create',
    provider: 'request',
    route: 'POST /v2/users/{id}/otp_sms/_send (webhook)',
    async seed(ctx, n) {
      return cycle(await seedChannel(ctx, cyclePool(n), 'sms', false), (u) => ({
        path: `/v2/users/${u.userId}/otp_sms/_send`,
        body: '{}',
        token: ctx.adminToken,
      }));
    },
  },
  {
    name: 'OTP Email _send (v2)',
    kind: 'create',
    provider: 'request',
    route: 'POST /v2/users/{id}/otp_email/_send (SMTP)',
    async seed(ctx, n) {
      return cycle(await seedChannel(ctx, cyclePool(n), 'email', false), (u) => ({
        path: `/v2/users/${u.userId}/otp_email/_send`,
        body: '{}',
        token: ctx.adminToken,
      }));
    },
  },
];

/** `_check` once more after every other operation: how far the yardstick drifted during the table. */
const CHECK_AGAIN = '_check (again, last)';

const SELECTED_OPS = (() => {
  const want = process.env.BENCH_OPS?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const picked = want?.length
    ? OPS.filter((o) => want.some((w) => o.name === w || o.name.startsWith(w + ' ')))
    : OPS;
  // `_check` is the yardstick of every ratio: always measured, first and again last
  const ops = picked.some((o) => o.name === '_check') ? picked : [OPS[0], ...picked];
  return ops.length > 1 ? [...ops, { ...OPS[0], name: CHECK_AGAIN }] : ops;
})();

// --- the provider sinks -----------------------------------------------------------------------

interface Sinks {
  env: Record<string, string>;
  sms: () => number;
  mails: () => number;
  close(): Promise<void>;
}

/**
 * Waits (at most 30 s) until the notification outbox has nothing due, no message has reached the sinks
 * and the service has used under 5 % of a core for half a second: mails and SMS still in flight and the
 * notification worker's mails go out before the next operation is measured, not during it. Answers the
 * CPU time (ms) the service used meanwhile, up to that last quiet half second: the delivery of what the
 * run left behind.
 */
async function settle(sinks: Sinks, db: SeedDb, pid: number): Promise<number> {
  let last = -1;
  const start = cpuMs(pid);
  for (let i = 0; i < 60; i++) {
    const row = await db.one(
      `SELECT COUNT(*) AS n FROM notification_outbox WHERE state = 'PENDING' AND next_attempt_at <= $1`,
      [Date.now()],
    );
    const sent = sinks.sms() + sinks.mails();
    const cpu0 = cpuMs(pid);
    await new Promise((r) => setTimeout(r, 500));
    if (Number(row?.n ?? 0) === 0 && sent === last && cpuMs(pid) - cpu0 < 25) return cpu0 - start;
    last = sent;
  }
  return cpuMs(pid) - start;
}

/** An SMS webhook and an SMTP relay in this process that accept everything at once. */
async function startSinks(): Promise<Sinks> {
  let sms = 0;
  let mails = 0;
  const hook = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      sms++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const hookPort = await freePort();
  await new Promise<void>((r) => hook.listen(hookPort, '127.0.0.1', r));
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        mails++;
        callback();
      });
    },
  });
  // a connection the service drops when it is stopped is no failure of the sink
  smtp.on('error', () => undefined);
  const smtpPort = await freePort();
  await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));
  return {
    env: {
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/sms`,
      SMS_RESEND_COOLDOWN_SECONDS: '0',
      SMS_DAILY_LIMIT_PER_NUMBER: '1000',
      MAIL_TRANSPORT: 'smtp',
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}?ignoreTLS=true`,
      EMAIL_RESEND_COOLDOWN_SECONDS: '0',
    },
    sms: () => sms,
    mails: () => mails,
    close: async () => {
      await new Promise((r) => hook.close(r));
      await new Promise((r) => smtp.close(() => r(undefined)));
    },
  };
}

// --- one database setting -----------------------------------------------------------------------

interface Environment {
  setting: SettingName;
  dbEnv: Record<string, string>;
  dir: string;
  masterKey: string;
  cleanup(): Promise<void>;
}

async function newEnvironment(setting: SettingName): Promise<Environment> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-seed-bench-'));
  const masterKey = randomBytes(32).toString('base64');
  if (setting === 'postgres') {
    const pgUrl = process.env.TEST_DATABASE_URL!;
    const schema = `bench_${process.pid}_${randomBytes(3).toString('hex')}`;
    return {
      setting,
      dir,
      masterKey,
      dbEnv: { DATABASE_URL: pgUrl, DATABASE_SCHEMA: schema },
      cleanup: async () => {
        fs.rmSync(dir, { recursive: true, force: true });
        const c = new Client({ connectionString: pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      },
    };
  }
  return {
    setting,
    dir,
    masterKey,
    dbEnv: {
      DATABASE_URL: `sqlite:${path.join(dir, 'mfa.sqlite')}`,
      SQLITE_SYNCHRONOUS: setting === 'sqlite-full' ? 'full' : 'normal',
    },
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The transports of the "provider aside" instance: the same service, whose sends only log. */
const PROVIDER_ASIDE = { MAIL_TRANSPORT: 'log', SMS_PROVIDER: 'log' };
/** The "notice aside" instance: as the provider-aside one, and no event asks for a security notice. */
const NOTICE_ASIDE = { ...PROVIDER_ASIDE, NOTIFY_EVENTS: 'none' };
/** Whether the run's instances send security notices at all (BENCH_NOTIFY_EVENTS=none: none does). */
const NOTICES_ON = (process.env.BENCH_NOTIFY_EVENTS ?? 'all') !== 'none';

/** Which instance a row was measured on: the service as configured, or one of the two asides. */
type Variant = 'main' | 'provider aside' | 'notice aside';

/** The rows of an operation: every operation on the main instance, and its aside rows where they apply. */
function variantsOf(op: Op): Variant[] {
  if (!op.provider) return ['main'];
  return op.provider === 'notice' && NOTICES_ON
    ? ['main', 'provider aside', 'notice aside']
    : ['main', 'provider aside'];
}

/** The aside instances the selected operations need, and what each is started with. */
const ASIDES = [...new Set(SELECTED_OPS.flatMap(variantsOf))].filter(
  (v): v is Exclude<Variant, 'main'> => v !== 'main',
);
const ASIDE_ENV: Record<Exclude<Variant, 'main'>, Record<string, string>> = {
  'provider aside': PROVIDER_ASIDE,
  'notice aside': NOTICE_ASIDE,
};

const rowName = (op: Op, variant: Variant) => (variant === 'main' ? op.name : `${op.name} (${variant})`);

/**
 * The warm-up pool of `_check` for an aside instance. Such an instance is loaded only for its aside
 * rows; warmed with the yardstick as well, the code all instances share (HTTP, Nest, guards, logging)
 * has had the same warm-up in each, and an aside row no longer pays for JIT work that the main instance
 * did in its other operations' warm-ups (on Express it cost an aside row up to 40 %).
 */
const yardstickWarmUp = (variant: Variant) => `_check (warm-up of the ${variant} instance)`;

async function startService(
  env: Environment,
  adapter: string,
  sinks: Sinks,
  overrides: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = start('src/main.js', {
    ...env.dbEnv,
    ...sinks.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: env.dir,
    MASTER_KEY: env.masterKey,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    HTTP_ADAPTER: adapter,
    // security notifications on, as by default: the worker mails them to the SMTP sink
    NOTIFY_EVENTS: process.env.BENCH_NOTIFY_EVENTS ?? 'all',
    // Each instance delivers the notices of its own commits (its worker wakes on them); without the
    // poll for other instances' rows, the idle one of two instances on one database never takes the
    // loaded one's notices, and so never its CPU or its transport.
    NOTIFY_POLL_INTERVAL_MS: '3600000',
    METRICS_PORT: '0',
    GRPC_PORT: '0',
    ...overrides,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, child);
  return { child, url };
}

/** Boots the service once (migrations, admin token), makes an organisation and a template human. */
async function prepare(env: Environment, sinks: Sinks, now: number): Promise<SeedContext> {
  const app = await startService(env, ADAPTERS[0], sinks);
  try {
    const adminToken = fs.readFileSync(path.join(env.dir, 'admin.pat'), 'utf8').trim();
    const post = async (p: string, body: unknown) => {
      const res = await fetch(app.url + p, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const out = (await res.json()) as Record<string, string>;
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`${p}: ${res.status} ${JSON.stringify(out)}`);
      return out;
    };
    const { organizationId } = await post('/v2/organizations', {
      name: `bench-${randomBytes(3).toString('hex')}`,
    });
    const { userId } = await post('/v2/users/human', {
      organization: { orgId: organizationId },
      username: `template-${randomBytes(3).toString('hex')}`,
      profile: { givenName: 'Bench', familyName: 'User' },
      email: { email: 'template@example.com', isVerified: true },
      phone: { phone: '+41791234567', isVerified: true },
    });
    const db = await openSeedDb(env.dbEnv);
    const template = (await db.one('SELECT * FROM users WHERE id = $1', [userId]))!;
    return { db, ...benchCrypto(env.masterKey), template, orgId: organizationId, adminToken, now };
  } finally {
    await stop(app.child);
  }
}

async function startFloor(env: Environment): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = start('bench/raw-baseline.js', {
    ...env.dbEnv,
    SQLITE_SYNCHRONOUS: env.dbEnv.SQLITE_SYNCHRONOUS ?? 'full',
    PORT: String(port),
    MASTER_KEY: env.masterKey,
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (c) => reject(new Error(`baseline exited with ${c}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

type Measured = LoadResult & { ranOut: boolean; stale: number };

/** Told when the seeded items ran out: the run stopped early, and its last requests repeated used items. */
const ranOutNote = (r: Measured) =>
  r.ranOut ? ` (ran out of seeded items: ${r.stale} repeated requests; raise BENCH_SEED_RATE)` : '';

interface Table {
  title: string;
  setting: SettingName;
  adapter: string;
  /** The rounds combined (see `combine`), and each round as measured. */
  floor: Measured;
  floorRounds: Measured[];
  /** One per operation, and one more for each of its aside runs (`name` and `variant` say which). */
  rows: { name: string; op: Op; variant: Variant; r: Measured; rounds: Measured[] }[];
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** The rounds of one operation as one row: medians of the figures, sums of the counts, the largest RSS. */
function combine(rounds: Measured[]): Measured {
  const sum = (f: (m: Measured) => number) => rounds.reduce((acc, m) => acc + f(m), 0);
  return {
    rps: median(rounds.map((m) => m.rps)),
    cpuUs: median(rounds.map((m) => m.cpuUs)),
    p50: median(rounds.map((m) => m.p50)),
    p99: median(rounds.map((m) => m.p99)),
    ok: sum((m) => m.ok),
    other: sum((m) => m.other),
    errors: sum((m) => m.errors),
    rssMb: Math.max(...rounds.map((m) => m.rssMb)),
    ranOut: rounds.some((m) => m.ranOut),
    stale: sum((m) => m.stale),
  };
}

/** The median over the rounds of `f(a) / f(b)` within each round. */
function roundRatio(a: Measured[], b: Measured[], f: (m: Measured) => number): number {
  return median(a.map((m, i) => f(m) / f(b[i])));
}

async function benchSetting(setting: SettingName, sinks: Sinks): Promise<Table[]> {
  const env = await newEnvironment(setting);
  try {
    const n = Math.ceil(SEED_RATE * SECONDS * ROUNDS);
    const t0 = performance.now();
    const ctx = await prepare(env, sinks, Date.now());
    let floorNext: () => BenchRequest | undefined;
    const pools: Map<string, Next>[] = [];
    const warmPools: Map<string, Next>[] = [];
    // the warm-up pool of a row also feeds its primes, one per round
    const nWarm = Math.ceil(SEED_RATE * WARMUP_SECONDS) + PRIME_REQUESTS * ROUNDS;
    try {
      // the floor runs several times faster than the service: three times the codes, for each adapter
      floorNext = await OPS[0].seed(ctx, (n + nWarm) * ADAPTERS.length * 3);
      for (let a = 0; a < ADAPTERS.length; a++) {
        const m = new Map<string, Next>();
        const w = new Map<string, Next>();
        for (const op of SELECTED_OPS) {
          for (const name of variantsOf(op).map((v) => rowName(op, v))) {
            m.set(name, await op.seed(ctx, n));
            if (nWarm > 0) w.set(name, await op.seed(ctx, nWarm));
          }
        }
        if (nWarm > 0) for (const v of ASIDES) w.set(yardstickWarmUp(v), await OPS[0].seed(ctx, nWarm));
        pools.push(m);
        warmPools.push(w);
      }
    } finally {
      await ctx.db.close();
    }
    console.log(
      `\n${setting}: seeded ${n} fresh items per operation and adapter directly in the database in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s (not timed); ${ROUNDS} rounds of ` +
        `${SECONDS} s per operation`,
    );
    const tables: Table[] = [];
    const reader = await openSeedDb(env.dbEnv);
    /** Before a measured run: the pause if one is asked for, then the prime and its notices delivered. */
    const prime = async (on: { child: ChildProcess; url: string }, next: Next | undefined) => {
      if (PAUSE_SECONDS > 0) await new Promise((r) => setTimeout(r, PAUSE_SECONDS * 1000));
      if (PRIME_REQUESTS === 0 || !next) return;
      await loadRequests(on.url, on.child.pid!, next, SECONDS, PRIME_REQUESTS);
      await settle(sinks, reader, on.child.pid!);
    };
    // the floor stays up next to the service, so that it runs in every round of every table
    const floorApp = await startFloor(env);
    try {
      if (WARMUP_SECONDS > 0)
        await loadRequests(floorApp.url, floorApp.child.pid!, floorNext, WARMUP_SECONDS);
      for (const [a, adapter] of ADAPTERS.entries()) {
        // The same service on the same database, its transports only logging (and, for the notice aside,
        // sending no notices): up beside the main one only when an operation has such a row, and loaded
        // only for those rows.
        const instances = new Map<Variant, { child: ChildProcess; url: string }>();
        try {
          instances.set('main', await startService(env, adapter, sinks));
          for (const v of ASIDES) instances.set(v, await startService(env, adapter, sinks, ASIDE_ENV[v]));
        } catch (e) {
          for (const i of instances.values()) await stop(i.child);
          throw e;
        }
        const runs = SELECTED_OPS.flatMap((op) =>
          variantsOf(op).map((variant) => ({
            name: rowName(op, variant),
            op,
            variant,
            on: instances.get(variant)!,
          })),
        );
        const floorRounds: Measured[] = [];
        const rounds = new Map<string, Measured[]>(runs.map((run) => [run.name, []]));
        try {
          const warmUps = [
            ...ASIDES.map((v) => ({ name: yardstickWarmUp(v), on: instances.get(v)! })),
            ...runs.map(({ name, on }) => ({ name, on })),
          ];
          for (const run of warmUps) {
            if (WARMUP_SECONDS === 0) break;
            await loadRequests(run.on.url, run.on.child.pid!, warmPools[a].get(run.name)!, WARMUP_SECONDS);
            await settle(sinks, reader, run.on.child.pid!);
          }
          for (let round = 1; round <= ROUNDS; round++) {
            await prime(floorApp, floorNext);
            floorRounds.push(await loadRequests(floorApp.url, floorApp.child.pid!, floorNext, SECONDS));
            for (const run of runs) {
              await prime(run.on, warmPools[a].get(run.name));
              const sms0 = sinks.sms();
              const mail0 = sinks.mails();
              const r = await loadRequests(run.on.url, run.on.child.pid!, pools[a].get(run.name)!, SECONDS);
              const afterMs = await settle(sinks, reader, run.on.child.pid!);
              // a notice is part of its request's cost, also when the worker sends it after the window
              const behind =
                run.op.provider === 'notice' ? (afterMs * 1000) / Math.max(1, r.ok + r.other) : 0;
              r.cpuUs += behind;
              rounds.get(run.name)!.push(r);
              const sent = sinks.sms() - sms0 + sinks.mails() - mail0;
              console.log(
                `  ${adapter} ${round}/${ROUNDS} ${run.name.padEnd(30)} ${r.rps.toFixed(0).padStart(6)} req/s, ` +
                  `2xx ${r.ok}, non-2xx ${r.other}, errors ${r.errors}` +
                  `${sent ? `, ${sent} SMS/mails to the sinks` : ''}` +
                  `${behind ? `, ${behind.toFixed(0)} µs/req of notice delivery after the window` : ''}${ranOutNote(r)}`,
              );
            }
          }
        } finally {
          for (const i of [...instances.values()].reverse()) await stop(i.child);
        }
        tables.push({
          title: `${setting}, ${adapter}`,
          setting,
          adapter,
          floor: combine(floorRounds),
          floorRounds,
          rows: runs.map(({ name, op, variant }) => {
            const r = rounds.get(name)!;
            return { name, op, variant, r: combine(r), rounds: r };
          }),
        });
      }
    } finally {
      await stop(floorApp.child);
      await reader.close();
    }
    return tables;
  } finally {
    await env.cleanup();
  }
}

// --- the table ------------------------------------------------------------------------------------

const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
/** A value with a trailing `!` when it misses its target. */
const mark = (text: string, miss: boolean) => (miss ? `${text}!` : text);

/**
 * Whether a row is held to its operation's CPU target. An operation that reaches a provider in its
 * request is held to it without that call: on its provider-aside row. One that asks for a security
 * notice is two paths with targets of their own: the request, judged on its notice-aside row, and the
 * notice, a mail the worker sends after the answer, judged as a send (noticeCosts); the row with both
 * shows its ratio unmarked. Without notices (BENCH_NOTIFY_EVENTS=none) its provider-aside row is the
 * request alone, and judged.
 */
function judgedRow(x: Table['rows'][number]): boolean {
  if (!x.op.provider) return true;
  if (x.op.provider === 'notice' && NOTICES_ON) return x.variant === 'notice aside';
  return x.variant !== 'main';
}

function tableRows(t: Table): string[][] {
  const check = t.rows.find((x) => x.name === '_check');
  const rpsTarget = t.setting === 'sqlite-normal' ? 0.5 : 0.9;
  const cells = (name: string, kind: Kind, r: Measured, rounds: Measured[], judged = true): string[] => {
    const cpuRatio = check ? roundRatio(rounds, check.rounds, (m) => m.cpuUs) : NaN;
    const cpuTarget = judged ? CPU_TARGET[kind] : undefined;
    const p99Ratio = roundRatio(rounds, t.floorRounds, (m) => m.p99);
    const rpsRatio = roundRatio(rounds, t.floorRounds, (m) => m.rps);
    return [
      name,
      f0(r.rps),
      f0(r.cpuUs),
      f0(r.p50),
      f0(r.p99),
      f0(r.rssMb),
      kind === 'floor' || name === '_check'
        ? '–'
        : name === CHECK_AGAIN
          ? `${f2(cpuRatio)}×`
          : mark(`${f2(cpuRatio)}×`, cpuTarget !== undefined && cpuRatio > cpuTarget),
      kind === 'floor'
        ? '–'
        : name === '_check' || name === CHECK_AGAIN
          ? mark(`${f2(rpsRatio)}×`, rpsRatio < rpsTarget)
          : '',
      kind === 'floor' ? '–' : mark(`${f2(p99Ratio)}×`, p99Ratio > 2),
      mark(String(r.other + r.errors), r.other + r.errors > 0) +
        (r.ranOut ? ` (ran out, ${r.stale} repeated)` : ''),
    ];
  };
  return [
    cells('floor (raw baseline _check)', 'floor', t.floor, t.floorRounds),
    ...t.rows.map((x) => cells(x.name, x.op.kind, x.r, x.rounds, judgedRow(x))),
  ];
}

const HEADER = [
  'operation',
  'req/s',
  'CPU µs/req',
  'p50 ms',
  'p99 ms',
  'RSS MB',
  'CPU ×_check',
  'req/s ×floor',
  'p99 ×floor',
  'non-2xx',
];

function printTable(t: Table): string {
  const rows = [HEADER, ...tableRows(t)];
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const text = rows
    .map((r) => '  ' + r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '))
    .join('\n');
  return `\n${t.title} (${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per operation; medians of the rounds):\n${text}`;
}

function markdownTable(t: Table): string {
  const rows = tableRows(t);
  return [
    `### ${t.title}`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r[0].startsWith('_') ? `\`${r[0]}\`` : r[0]} | ${r.slice(1).join(' | ')} |`),
    '',
  ].join('\n');
}

/**
 * How close to the floor a Nest service can come at all: the floor's own work (lookup, HMAC, replay
 * write) plus what Nest on this adapter costs over bare node:http for the same request answered with a
 * constant (the stack floors, measured once at the start of the run). The bound leaves out everything
 * the floor does not do – the token check, validation, counting the attempt, the event, the access line.
 * Only with SQLITE_SYNCHRONOUS=normal, where the floor is bound by its CPU: with `full` and on
 * PostgreSQL it waits for a sync or a round trip per request, which the service shares between the
 * requests of a batch, so there CPU says little about the throughput either can reach.
 */
function frameworkBound(t: Table, stacks?: Record<string, LoadResult>): string | undefined {
  if (t.setting !== 'sqlite-normal') return undefined;
  const nest = stacks?.[`nest-${t.adapter}`];
  const bare = stacks?.['node-http'];
  if (!nest || !bare) return undefined;
  const framework = Math.max(0, nest.cpuUs - bare.cpuUs);
  const best = t.floor.cpuUs + framework;
  return (
    `  framework bound: Nest on ${t.adapter} answers a constant for ${f0(nest.cpuUs)} µs of CPU, node:http for ` +
    `${f0(bare.cpuUs)} µs; the floor's work alone inside Nest would cost ${f0(t.floor.cpuUs)} + ${f0(framework)} = ` +
    `${f0(best)} µs, at most ${f2(t.floor.cpuUs / best)}× the floor's throughput (\`_check\` here: ` +
    `${f2(t.floor.cpuUs / (t.rows.find((x) => x.name === '_check')?.r.cpuUs ?? NaN))}× by CPU)`
  );
}

/**
 * What a security notice adds to its request, for each operation that asks for one: its provider-aside
 * row (request, notice and its delivery, the mail only logged) less its notice-aside row (the request
 * alone), round by round. The notice is a send, the provider call aside: held to the send target.
 */
function noticeCosts(t: Table): string[] {
  const check = t.rows.find((x) => x.name === '_check');
  return t.rows.flatMap((withNotice) => {
    const alone = t.rows.find((x) => x.op === withNotice.op && x.variant === 'notice aside');
    if (withNotice.variant !== 'provider aside' || !alone || !check) return [];
    const added = (m: Measured, i: number) => m.cpuUs - alone.rounds[i].cpuUs;
    const us = median(withNotice.rounds.map(added));
    const ratio = median(withNotice.rounds.map((m, i) => added(m, i) / check.rounds[i].cpuUs));
    return [
      `  ${withNotice.op.name}: its security notice adds ${f0(us)} µs of CPU per request ` +
        `(${mark(`${f2(ratio)}×`, ratio > CPU_TARGET.create!)} \`_check\`, judged as a send): the outbox row ` +
        `in the request's transaction, the worker's claim, the user's read, the text, the log lines and the ` +
        `settle (provider-aside row less notice-aside row)`,
    ];
  });
}

/**
 * The p99 column read against the throughput. In a closed loop of CONNECTIONS connections a request
 * waits CONNECTIONS / (req/s) on average (Little's law), so an operation that answers fewer requests a
 * second than the floor has a higher p99 in proportion, however short its tail. The tail itself is the
 * p99 over that mean wait: next to the floor's it tells an operation with long tails of its own (as the
 * seconds-long ones of one fsync per write were) from one that is only slower.
 */
function tails(t: Table): string {
  const tail = (r: Measured) => r.p99 / ((CONNECTIONS / r.rps) * 1000);
  const rows = t.rows.map((x) => ({ name: x.name, tail: tail(x.r), p99: x.r.p99 }));
  const floor = tail(t.floor);
  const worst = rows.reduce((a, b) => (b.tail > a.tail ? b : a));
  const longest = rows.reduce((a, b) => (b.p99 > a.p99 ? b : a));
  const own = rows.filter((x) => x.tail > 2 * floor).map((x) => x.name);
  return (
    `  tails: at ${CONNECTIONS} connections a request waits ${CONNECTIONS} / (req/s) on average, so a p99 ` +
    `above the floor's is first of all the lower throughput; the tail, p99 over that mean wait, is ` +
    `${f2(floor)}× for the floor and ${f2(Math.min(...rows.map((x) => x.tail)))}–${f2(worst.tail)}× for ` +
    `the operations (longest: ${worst.name}); the largest p99 is ${f0(longest.p99)} ms (${longest.name}); ` +
    (own.length ? `tails above twice the floor's: ${own.join(', ')}` : `no tail above twice the floor's`)
  );
}

const LEGEND =
  '`!` marks a miss: CPU ×_check above 1.5 (verifies and checks) or 3 (create/challenge/send, the ' +
  'provider call aside), `_check` below 0.5× the floor’s throughput (synchronous=normal) or 0.9× (full, ' +
  'PostgreSQL), p99 above 2× the floor’s p99, any non-2xx answer. The SMS webhook and the SMTP relay are ' +
  'sinks in the bench process that answer at once: the figures leave the provider’s own time aside, not the ' +
  'service’s side of the call (the SMTP dialogue, the webhook POST). A “provider aside” row is the same ' +
  'operation on a second instance of the service, on the same database, whose transports only log ' +
  '(MAIL_TRANSPORT=log, SMS_PROVIDER=log): the target of an operation that reaches a provider (create, ' +
  'challenge, send, and the notices) is judged on that row, and the row with the call shows its ratio unmarked. Where ' +
  'a request asks for a security notice (TOTP register, recovery code `_check`), the CPU the notification ' +
  'worker spends delivering the run’s notices after its window is added to the run’s CPU; its “notice ' +
  'aside” row is the request on a third instance that sends no notices (NOTIFY_EVENTS=none, transports ' +
  'logging). Such an operation is two paths: the request is judged on its notice-aside row, the notice (a ' +
  'mail sent after the answer) as a send, on the line under the table (provider-aside row less ' +
  'notice-aside row, 3×); its provider-aside row shows the sum unmarked. Every aside instance is warmed with `_check` as well as with its own rows, and ' +
  'every measured run comes right after an unmeasured prime of the same load on its instance ' +
  '(BENCH_PRIME_REQUESTS), so no row pays for what V8 gave back while its instance sat idle. Each ' +
  'figure is the median of the rounds, each ratio the median of the ratios within a round. `_check (again, ' +
  'last)` runs after all others in every round: its distance from `_check` is the drift of the yardstick ' +
  'within a round (noise, warm-up).';

// --- RSS and scaling ---------------------------------------------------------------------------

async function rssRun(setting: SettingName, sinks: Sinks): Promise<string> {
  const env = await newEnvironment(setting);
  try {
    const ctx = await prepare(env, sinks, Date.now());
    let next: Next;
    try {
      next = await OPS[0].seed(ctx, Math.ceil(SEED_RATE * RSS_SECONDS));
    } finally {
      await ctx.db.close();
    }
    const app = await startService(env, ADAPTERS[0], sinks);
    try {
      const r = await loadRequests(app.url, app.child.pid!, next, RSS_SECONDS);
      const rssNow =
        Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${app.child.pid}/status`, 'utf8'))?.[1]) /
        1024;
      return (
        `  ${setting}, ${ADAPTERS[0]}: _check ${RSS_SECONDS} s at ${CONNECTIONS} connections: ${f0(r.rps)} req/s, ` +
        `RSS at the end ${mark(`${f0(rssNow)} MB`, rssNow > 200)} (largest ${f0(r.rssMb)} MB; target ≤ 200 MB), ` +
        `non-2xx ${r.other + r.errors}${ranOutNote(r)}`
      );
    } finally {
      await stop(app.child);
    }
  } finally {
    await env.cleanup();
  }
}

/** One population of the scaling run: its database, its service, and the requests it is fed. */
interface Population {
  size: number;
  env: Environment;
  app?: { child: ChildProcess; url: string };
  check: Next;
  verify: Next;
  total: number;
  seeded: number;
}

async function seedPopulation(setting: SettingName, sinks: Sinks, size: number): Promise<Population> {
  const env = await newEnvironment(setting);
  try {
    const ctx = await prepare(env, sinks, Date.now());
    const verifies = Math.min(Math.ceil(SEED_RATE * (SECONDS + WARMUP_SECONDS)), Math.max(3000, 2 * size));
    const t0 = performance.now();
    try {
      // the population, in transactions of 50 000 users
      const checkUsers: BenchUser[] = [];
      for (let done = 0; done < size; done += 50_000) {
        checkUsers.push(...(await seedTotp(ctx, Math.min(50_000, size - done), 'READY', false)));
      }
      const source = new CodeSource(checkUsers);
      const check: Next = () => {
        const before = source.exhausted;
        const { userId, code } = source.next();
        if (source.exhausted > before) return undefined;
        return { path: `/v2/users/${userId}/totp/_check`, body: json({ code }), token: ctx.adminToken };
      };
      const verify = await OPS[1].seed(ctx, verifies);
      const total = Number((await ctx.db.one('SELECT COUNT(*) AS n FROM users', []))?.n);
      return { size, env, check, verify, total, seeded: (performance.now() - t0) / 1000 };
    } finally {
      await ctx.db.close();
    }
  } catch (e) {
    await env.cleanup();
    throw e;
  }
}

/**
 * The scaling run of one setting: a database and a service per size, all up at once, `_check` loaded
 * on each in turn for SCALE_ROUNDS rounds (so the machine's drift moves both sides of a ratio alike; the
 * ratio is the median of the ratios within a round), then 000 verify once per size. Verify items are
 * NOT_READY factors of their own users, as many as one run takes (at most twice the population's size, so
 * they do not swamp the small population): one run each.
 */
async function scaleRun(setting: SettingName, sinks: Sinks): Promise<string[]> {
  const populations: Population[] = [];
  try {
    for (const size of SCALE_USERS) populations.push(await seedPopulation(setting, sinks, size));
    for (const p of populations) p.app = await startService(p.env, ADAPTERS[0], sinks);
    for (const p of populations) {
      if (WARMUP_SECONDS > 0) await loadRequests(p.app!.url, p.app!.child.pid!, p.check, WARMUP_SECONDS);
    }
    const checks = new Map<Population, Measured[]>(populations.map((p) => [p, []]));
    for (let round = 0; round < SCALE_ROUNDS; round++) {
      for (const p of populations)
        checks.get(p)!.push(await loadRequests(p.app!.url, p.app!.child.pid!, p.check, SECONDS));
    }
    const verifies = new Map<Population, Measured>();
    for (const p of populations) {
      if (WARMUP_SECONDS > 0) await loadRequests(p.app!.url, p.app!.child.pid!, p.verify, WARMUP_SECONDS);
      verifies.set(p, await loadRequests(p.app!.url, p.app!.child.pid!, p.verify, SECONDS));
    }
    const failed = (r: Measured) => Math.max(0, r.other + r.errors - r.stale);
    for (const p of populations) {
      const check = combine(checks.get(p)!);
      const verify = verifies.get(p)!;
      console.log(
        `  ${setting} ${p.size} READY users (${p.total} users in all, seeded in ${p.seeded.toFixed(1)} s): ` +
          `_check ${f0(check.cpuUs)} µs/req over ${check.ok + check.other} in ${SCALE_ROUNDS} rounds` +
          `${check.ranOut ? ' (ran out)' : ''}, ` +
          `000 verify ${f0(verify.cpuUs)} µs/req over ${verify.ok + verify.other}${verify.ranOut ? ' (ran out)' : ''}` +
          `, non-2xx ${mark(String(failed(check) + failed(verify)), failed(check) + failed(verify) > 0)}` +
          (check.ranOut || verify.ranOut ? ' (not counting repeated requests)' : ''),
      );
    }
    const small = populations[0];
    const large = populations[populations.length - 1];
    const line = (op: string, figures: string, ratio: number, how: string) =>
      `  ${setting} ${op}: ${figures}; ` +
      (Number.isNaN(ratio)
        ? 'not compared: a run ran out of fresh items (more users, or a shorter BENCH_SECONDS)'
        : `largest/smallest ${mark(`${f2(ratio)}×`, ratio > 1.1)} (${how})`);
    // a run that ran out of fresh items measured mostly repeated requests and the ramp: no figure
    const checkRatio = populations.some((p) => checks.get(p)!.some((m) => m.ranOut))
      ? NaN
      : roundRatio(checks.get(large)!, checks.get(small)!, (m) => m.cpuUs);
    const verifyRatio =
      verifies.get(large)!.ranOut || verifies.get(small)!.ranOut
        ? NaN
        : verifies.get(large)!.cpuUs / verifies.get(small)!.cpuUs;
    return [
      line(
        '_check',
        populations.map((p) => `${p.size} users ${f0(combine(checks.get(p)!).cpuUs)} µs`).join(', '),
        checkRatio,
        `median of ${SCALE_ROUNDS} rounds in turn`,
      ),
      line(
        '000 verify',
        populations.map((p) => `${p.size} users ${f0(verifies.get(p)!.cpuUs)} µs`).join(', '),
        verifyRatio,
        'one run each',
      ),
    ];
  } finally {
    for (const p of populations) {
      if (p.app) await stop(p.app.child);
      await p.env.cleanup();
    }
  }
}

// --- entry point -----------------------------------------------------------------------------------

export async function runSeedOpsBench(): Promise<void> {
  const t0 = performance.now();
  // `sqlite` (the name the `_check` bench knows) stands for both SQLite settings
  const wanted = process.env.BENCH_DB?.split(',').flatMap((s) =>
    s.trim() === 'sqlite' ? ['sqlite-normal', 'sqlite-full'] : [s.trim()],
  );
  const settings = SETTINGS.filter((s) => !wanted || wanted.includes(s)).filter((s) => {
    if (s === 'postgres' && !process.env.TEST_DATABASE_URL) {
      console.log('\npostgres: skipped (set TEST_DATABASE_URL to include it)');
      return false;
    }
    return true;
  });
  console.log(
    `\nSeed operations against the floor: ${SELECTED_OPS.length} operations, ${CONNECTIONS} connections, ` +
      `${SECONDS} s each; ${settings.join(', ')}; adapters ${ADAPTERS.join(', ')}`,
  );
  compile();
  // what each HTTP stack costs before any work of ours (see frameworkBound); BENCH_FLOOR=0 skips it
  const stacks = process.env.BENCH_FLOOR === '0' ? undefined : await runFloor(SECONDS);
  const sinks = await startSinks();
  const markdown: string[] = [`## Seed operations (${new Date().toISOString()})`, '', LEGEND, ''];
  try {
    for (const setting of settings) {
      for (const t of await benchSetting(setting, sinks)) {
        const notes = [frameworkBound(t, stacks), ...noticeCosts(t), tails(t)].filter(
          (x): x is string => !!x,
        );
        console.log([printTable(t), ...notes].join('\n'));
        markdown.push(markdownTable(t) + notes.map((x) => `\n${x.trim()}\n`).join(''));
      }
    }
    console.log(`\n  ${LEGEND}`);
    if (RSS_SECONDS > 0) {
      console.log(`\nRSS after ${RSS_SECONDS} s of _check at ${CONNECTIONS} connections:`);
      for (const setting of settings) {
        const line = await rssRun(setting, sinks);
        console.log(line);
        markdown.push(line.trim(), '');
      }
    }
    if (SCALE_USERS.length > 0) {
      console.log(
        `\nScaling (${ADAPTERS[0]}; CPU µs per request by users in the tables, target within 10 %):`,
      );
      for (const setting of settings) {
        for (const line of await scaleRun(setting, sinks)) {
          console.log(line);
          markdown.push(line.trim(), '');
        }
      }
    }
  } finally {
    await sinks.close();
  }
  const out = path.join(BUILD, 'seed-ops-table.md');
  fs.mkdirSync(BUILD, { recursive: true });
  fs.writeFileSync(out, markdown.join('\n') + '\n');
  console.log(
    `\nSeed operations bench: ${((performance.now() - t0) / 1000).toFixed(0)} s in all; markdown copy: ` +
      path.relative(ROOT, out),
  );
}

if (require.main === module) {
  runSeedOpsBench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
