import BetterSqlite3, { type Database } from 'better-sqlite3';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createHuman, createMachine, createOrg, grantInstanceRoles } from './helpers/factories';
import { FakeSmsProvider } from './helpers/fake-sms-provider';
import { startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, TOTP_V1, totpV2 } from './helpers/totp';

/**
 * The cost of a request must not grow with the number of users, factors or challenges: every
 * statement a request runs reaches its rows through an index (or a primary key), never by reading a
 * table whole. This suite records each statement the database driver executes while the request
 * paths run – every seed verify, every sign-in check, the create/send paths, wrong codes included –
 * and asks the database for its plan:
 * - SQLite: `EXPLAIN QUERY PLAN`; a `SCAN <table>` (a full table or full index scan) fails.
 * - PostgreSQL: the generic plan with sequential scans disabled; a `Seq Scan` left in it means no
 *   index can serve the statement, and fails. (With few rows the planner would pick sequential scans
 *   anyway, so their presence with the default settings says nothing.)
 * Statements of background jobs that run meanwhile (the notification worker, sweepers) are recorded
 * too: they run on every instance all the time.
 */
describe('every statement of the request paths is an index lookup', () => {
  let t: TestApp;
  let sms: FakeSmsProvider;
  let sink: SmtpSink;
  const executed = new Set<string>();
  let recording = false;
  const restore: (() => void)[] = [];

  beforeAll(async () => {
    sms = await new FakeSmsProvider().start();
    sink = await startSmtpSink();
    // before the app starts: a pooled pg client binds its query method when it connects
    record();
    t = await createTestApp({
      env: {
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: sms.url + '/sms',
        SMS_RETRIES: '0',
        MAIL_TRANSPORT: 'smtp',
        SMTP_URL: sink.url,
        NOTIFY_EVENTS: 'all',
        OTP_MAX_ATTEMPTS: '2',
        SMS_RESEND_COOLDOWN_SECONDS: '30',
      },
    });
  });
  afterAll(async () => {
    restore.forEach((undo) => undo());
    await t?.close();
    await sms?.stop();
    await sink?.close();
  });

  /** Wraps both drivers' execution entry points; statements are kept while `recording` is on. */
  function record(): void {
    const keep = (sql: string) => {
      if (recording) executed.add(sql.trim().replace(/\s+/g, ' '));
    };
    const scratch = new BetterSqlite3(':memory:');
    const statement = Object.getPrototypeOf(scratch.prepare('SELECT 1')) as Record<string, unknown>;
    scratch.close();
    for (const method of ['run', 'get', 'all', 'iterate']) {
      const original = statement[method] as (this: { source: string }, ...args: unknown[]) => unknown;
      statement[method] = function (this: { source: string }, ...args: unknown[]) {
        keep(this.source);
        return original.apply(this, args);
      };
      restore.push(() => (statement[method] = original));
    }
    const client = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const query = client.query;
    client.query = function (this: Client, ...args: unknown[]) {
      const q = args[0];
      if (typeof q === 'string') keep(q);
      else if (q && typeof (q as { text?: unknown }).text === 'string') keep((q as { text: string }).text);
      return query.apply(this, args);
    };
    restore.push(() => (client.query = query));
  }

  const post = (token: string, path: string, body: unknown = {}) =>
    t.http.post(path).set(bearer(token)).set('Content-Type', 'application/json').send(JSON.stringify(body));
  /** The code in the last mail to `address` that has one of `digits` digits (security notifications arrive too). */
  const mailedCode = (address: string, digits: number) => {
    const re = new RegExp(`verification code is: (\\d{${digits}})\\b`);
    const mail = sink.messages.filter((m) => m.to.includes(address) && re.test(m.raw)).pop();
    if (!mail) throw new Error('no code mailed');
    return re.exec(mail.raw)![1];
  };
  const wrong8 = (code: string) => String((Number(code) + 1) % 100_000_000).padStart(8, '0');

  it('runs every seed operation and sign-in check', async () => {
    const orgId = await createOrg(t);
    const issuer = await createMachine(t, orgId);
    await grantInstanceRoles(t, issuer.userId, ['MFA_CHALLENGE_ISSUER']);
    const phone = '+41791234567';
    const alice = await createHuman(t, orgId, { phone, phoneVerified: true });
    const bob = await createHuman(t, orgId);
    recording = true;

    // 000: register, a wrong code, verify; then _check (right, wrong, replayed)
    const reg = await post(alice.token, totpV2(alice.userId), {});
    expect(reg.status).toBe(200);
    const secret = reg.body.secret as string;
    expect((await post(alice.token, totpV2(alice.userId, '/verify'), { code: '000000' })).status).toBe(400);
    const code = codeAt(t, secret);
    expect((await post(alice.token, totpV2(alice.userId, '/verify'), { code })).status).toBe(200);
    t.clock.advance(30_000);
    const next = codeAt(t, secret);
    expect((await post(alice.token, totpV2(alice.userId, '/_check'), { code: next })).status).toBe(200);
    expect((await post(alice.token, totpV2(alice.userId, '/_check'), { code: next })).status).toBe(400);

    // 001: the caller's own factor
    const mine = await post(bob.token, TOTP_V1, {});
    expect(mine.status).toBe(200);
    expect((await post(bob.token, `${TOTP_V1}/_verify`, { code: codeAt(t, mine.body.secret) })).status).toBe(
      200,
    );

    // 002: v3alpha OTP SMS add (code sent), a wrong code, verify; then _challenge and _check
    const v3 = `/resources/v3alpha/users/${alice.userId}/otp_sms`;
    const added = await post(alice.token, v3, { number: '+41797654321' });
    expect(added.status).toBe(200);
    const otpSmsId = added.body.otpSmsId as string;
    const smsCode = sms.last('+41797654321').code;
    expect((await post(alice.token, `${v3}/${otpSmsId}/_verify`, wrong8(smsCode))).status).toBe(400);
    expect((await post(alice.token, `${v3}/${otpSmsId}/_verify`, smsCode)).status).toBe(200);
    t.clock.advance(30_000);
    expect((await post(alice.token, `${v3}/${otpSmsId}/_challenge`, {})).status).toBe(200);
    const challenged = sms.last('+41797654321').code;
    expect((await post(alice.token, `${v3}/${otpSmsId}/_check`, challenged)).status).toBe(200);

    // v2 OTP SMS and OTP Email: add, send, a wrong code, check
    for (const kind of ['otp_sms', 'otp_email'] as const) {
      const base = `/v2/users/${alice.userId}/${kind}`;
      expect((await post(alice.token, base, {})).status).toBe(200);
      expect((await post(alice.token, `${base}/_send`, {})).status).toBe(200);
      const sent = kind === 'otp_sms' ? sms.last(phone).code : mailedCode(alice.email, 8);
      expect((await post(alice.token, `${base}/_check`, { code: wrong8(sent) })).status).toBe(400);
      expect((await post(alice.token, `${base}/_check`, { code: sent })).status).toBe(200);
    }

    // recovery codes: generate, a wrong one, use one
    const rc = `/v2/users/${alice.userId}/recovery_codes`;
    const generated = await post(alice.token, rc, { count: 3 });
    expect(generated.status).toBe(200);
    expect((await post(alice.token, `${rc}/_check`, { code: 'AAAAA-AAAAA' })).status).toBe(400);
    const used = await post(alice.token, `${rc}/_check`, { code: generated.body.recoveryCodes[0] });
    expect(used.status).toBe(200);

    // 003: the email challenge: create, a wrong code, verify, read, consume
    const base = '/internal/v1/mfa/totp-email';
    const created = await post(issuer.token, base, { userId: alice.userId, operation: 'payment.approve' });
    expect(created.status).toBe(201);
    const id = created.body.challengeId as string;
    const mailed = mailedCode(alice.email, 6);
    const other = mailed.slice(0, 5) + String((Number(mailed[5]) + 1) % 10);
    expect((await post(alice.token, `${base}/${id}:verify`, { totp: other })).status).toBe(400);
    expect((await post(alice.token, `${base}/${id}:verify`, { totp: mailed })).status).toBe(200);
    expect((await t.http.get(`${base}/${id}`).set(bearer(alice.token))).status).toBe(200);
    expect((await post(issuer.token, `${base}/${id}:consume`, {})).status).toBe(200);

    // the factor list
    const list = await t.http
      .get(`/v2/users/${alice.userId}/authentication_methods`)
      .set(bearer(alice.token));
    expect(list.status).toBe(200);
    recording = false;
    expect(executed.size).toBeGreaterThan(20);
  });

  it('finds no statement that reads a table whole', async () => {
    const statements = [...executed].filter((s) => /^(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(s));
    expect(statements.length).toBeGreaterThan(20);
    const scans: string[] = [];
    for (const sql of statements) {
      const tables = t.db === 'sqlite' ? sqliteScans(sql) : await postgresScans(sql);
      for (const table of tables) scans.push(`${table}: ${sql}`);
    }
    expect(scans).toEqual([]);
  });

  it('would notice a statement that reads a table whole', async () => {
    const probe = 'SELECT aggregate_id FROM events WHERE event_type = $1';
    expect(t.db === 'sqlite' ? sqliteScans(probe) : await postgresScans(probe)).toEqual(['events']);
  });

  it('claims notifications without sorting the pending rows or passing the sent ones', async () => {
    const claim = [...executed].find((s) =>
      /^UPDATE notification_outbox\b.*\blease_token = (\$2|\?),/.test(s),
    );
    expect(claim).toBeDefined();
    if (t.db === 'sqlite') {
      const plan = sqlitePlan(claim!);
      expect(plan).toContain('SCAN notification_outbox USING INDEX ix_notification_outbox_pending');
      expect(plan.filter((step) => /TEMP B-TREE/.test(step))).toEqual([]);
    } else {
      const nodes = await postgresPlanNodes(claim!);
      expect(nodes.filter((n) => n['Node Type'] === 'Sort')).toEqual([]);
      expect(nodes.some((n) => n['Index Name'] === 'ix_notification_outbox_pending')).toBe(true);
    }
  });

  /**
   * Tables that SQLite's plan for `sql` reads whole (`SCAN t`, with or without a covering index). The
   * rows of a multi-row VALUES list (`SCAN 3-ROW VALUES CLAUSE`) are the statement's own, no table's.
   * A partial index read in order under a LIMIT holds only the rows asked for and stops at the limit
   * (the notification claim): it is no table read whole.
   */
  function sqliteScans(sql: string): string[] {
    const limited = /\bLIMIT\b/i.test(sql);
    return sqlitePlan(sql)
      .filter((detail) => !/^SCAN \d+-ROW VALUES CLAUSE$/.test(detail))
      .filter((detail) => {
        const index = /^SCAN \w+ USING (?:COVERING )?INDEX (\w+)$/.exec(detail)?.[1];
        return !(limited && index && isPartialIndex(index));
      })
      .map((detail) => /^SCAN (\w+)/.exec(detail)?.[1])
      .filter((table): table is string => table !== undefined && table !== 'CONSTANT');
  }

  function sqliteDb(): Database {
    return (t.app.get(DataSource).driver as unknown as { databaseConnection: Database }).databaseConnection;
  }

  function isPartialIndex(name: string): boolean {
    const row = sqliteDb()
      .prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`)
      .get(name) as { sql: string | null } | undefined;
    return /\bWHERE\b/i.test(row?.sql ?? '');
  }

  /** SQLite's query plan of `sql`, one line per step. */
  function sqlitePlan(sql: string): string[] {
    const stmt = sqliteDb().prepare(`EXPLAIN QUERY PLAN ${sql}`);
    const named = [...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
    const positional = (sql.match(/\?/g) ?? []).length;
    const rows = (
      named.length > 0
        ? stmt.all(Object.fromEntries(named.map((n) => [n, null])))
        : stmt.all(...Array.from({ length: positional }, () => null))
    ) as { detail: string }[];
    return rows.map((r) => r.detail);
  }

  /** Tables that PostgreSQL can only read whole for `sql`, whatever the parameters. */
  async function postgresScans(sql: string): Promise<string[]> {
    return (await postgresPlanNodes(sql))
      .filter((node) => node['Node Type'] === 'Seq Scan')
      .map((node) => node['Relation Name'] ?? '?');
  }

  /** Every node of PostgreSQL's generic plan for `sql`, with sequential scans disabled. */
  async function postgresPlanNodes(sql: string): Promise<PlanNode[]> {
    const qr = t.app.get(DataSource).createQueryRunner();
    await qr.connect();
    try {
      await qr.query('BEGIN');
      await qr.query('SET LOCAL enable_seqscan = off');
      await qr.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await qr.query(`PREPARE plan_probe AS ${sql}`);
      const params = Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
      const rows = (await qr.query(
        `EXPLAIN (FORMAT JSON) EXECUTE plan_probe${params ? `(${Array(params).fill('NULL').join(', ')})` : ''}`,
      )) as { 'QUERY PLAN': { Plan: PlanNode }[] }[];
      const found: PlanNode[] = [];
      const walk = (node: PlanNode) => {
        found.push(node);
        node.Plans?.forEach(walk);
      };
      walk(rows[0]['QUERY PLAN'][0].Plan);
      return found;
    } finally {
      await qr.query('ROLLBACK');
      // PREPARE outlives the transaction
      await qr.query('DEALLOCATE ALL');
      await qr.release();
    }
  }
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
