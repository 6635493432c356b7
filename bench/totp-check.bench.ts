/**
 * Load test of `POST /v2/users/{userId}/totp/_check` against the raw baseline (bench/raw-baseline.ts),
 * on SQLite and – when TEST_DATABASE_URL is set – PostgreSQL. Both servers run as child processes
 * (so RSS and CPU are theirs); autocannon runs here with 50 connections for BENCH_SECONDS (10).
 *
 * Every request carries a fresh valid code, so replay protection never rejects a request of the
 * benchmark: BENCH_ENROL users are registered and verified through the API (that phase is timed:
 * register→verify throughput), then BENCH_USERS users for the service and twice as many for the faster
 * baseline are cloned from one of them directly
 * in the database (same columns, new ids, own sealed secrets, READY), and the load generator hands
 * out each user's steps T and T+1 at most once.
 * Env: BENCH_USERS (default 25000), BENCH_ENROL (default 200), BENCH_SECONDS (10),
 * BENCH_LOG_LEVEL (the service's LOG_LEVEL, default info), BENCH_DB (sqlite | postgres: only that one),
 * BENCH_ADAPTERS (HTTP adapters to load, default `fastify,express`), BENCH_FLOOR=0 (skip the HTTP stack
 * floor), BENCH_FLOOR_SECONDS (5).
 * The service runs with its metrics on (the default), each adapter once; the first adapter runs once
 * more with METRICS_PORT=0, and the difference is what metrics cost on `_check`. BENCH_METRICS_ROUNDS=n
 * (default 1) alternates n off/on pairs of that adapter and compares the means, for a noisy machine.
 */
import autocannon from 'autocannon';
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { AppConfig } from '../src/common/config/app-config';
import { SecretBox } from '../src/common/crypto/secret-box';
import { decodeSecret, hotp, newTotpSecret, timeStep } from '../src/totp/totp-algorithm';

const ROOT = path.resolve(__dirname, '..');
const USERS = Number(process.env.BENCH_USERS ?? 25000);
const ENROL = Number(process.env.BENCH_ENROL ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
export const CONNECTIONS = 50;
const METRICS_ROUNDS = Math.max(1, Number(process.env.BENCH_METRICS_ROUNDS ?? 1));

export interface BenchUser {
  userId: string;
  key: Buffer;
  lastStep: number;
}

/**
 * Hands out (user, fresh code) pairs: each of a user's steps at most once, the current step first, then the
 * next. Never the previous step: a request made with it just before the step changes arrives two steps
 * late and is rightly refused, so under load some requests near every step change would fail.
 */
export class CodeSource {
  private cursor = 0;
  exhausted = 0;
  constructor(private readonly users: BenchUser[]) {}

  next(): { userId: string; code: string } {
    const t = timeStep(Date.now());
    for (let tries = 0; tries < this.users.length; tries++) {
      const u = this.users[this.cursor++ % this.users.length];
      const step = Math.max(u.lastStep + 1, t);
      if (step <= t + 1) {
        u.lastStep = step;
        return { userId: u.userId, code: hotp(u.key, step) };
      }
    }
    this.exhausted++;
    return { userId: this.users[0].userId, code: '000000' };
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export const BUILD = path.join(ROOT, 'dist', 'bench');

let compiled = false;

/** Compiles the service and the baseline to JavaScript (once per process), so both servers run as in production. */
export function compile(): void {
  if (compiled) return;
  compiled = true;
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  fs.rmSync(BUILD, { recursive: true, force: true });
  execFileSync(
    tsc,
    ['-p', 'tsconfig.build.json', '--outDir', BUILD, '--rootDir', '.', '--sourceMap', 'false'],
    { cwd: ROOT, stdio: 'inherit' },
  );
  execFileSync(
    tsc,
    [
      'bench/raw-baseline.ts',
      'bench/floor-server.ts',
      '--outDir',
      BUILD,
      '--rootDir',
      '.',
      '--target',
      'ES2022',
      '--module',
      'commonjs',
      '--esModuleInterop',
      '--experimentalDecorators',
      '--emitDecoratorMetadata',
      '--skipLibCheck',
      '--types',
      'node',
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
}

/**
 * The Node.js flags of `npm start` (package.json), so the service runs here as in production; the
 * baseline and the floor servers get the same ones, so the comparison stays fair.
 */
export const NODE_FLAGS = (
  JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
).scripts.start
  .split(/\s+/)
  .filter((arg) => arg.startsWith('--'));

export function start(script: string, env: Record<string, string>): ChildProcess {
  return fork(path.join(BUILD, script), [], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    // BENCH_NODE_FLAGS: more Node and V8 flags for every server (for experiments, e.g. with the GC);
    // BENCH_PROFILE=<dir>: write a V8 CPU profile of each server there (for finding the hot spots)
    execArgv: [
      ...NODE_FLAGS,
      ...(process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    ],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

export async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready: ${url}`);
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** User + system CPU time of a process so far (ms), from /proc. */
export function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

export interface LoadResult {
  rps: number;
  /** Server CPU time per request (µs): what the throughput would be on a dedicated core. */
  cpuUs: number;
  p50: number;
  p99: number;
  ok: number;
  other: number;
  errors: number;
  rssMb: number;
}

/** One request of a load run: where it goes, its JSON body and the bearer token it carries (if any). */
export interface BenchRequest {
  path: string;
  body: string;
  token?: string;
}

/**
 * Loads `baseUrl` with CONNECTIONS connections for `seconds`, each request made by `next` (undefined:
 * nothing fresh is left, and the run stops early – the figures then cover the requests made until then).
 * Measures the server process `pid`: its CPU time per request and its largest RSS.
 */
export async function loadRequests(
  baseUrl: string,
  pid: number,
  next: () => BenchRequest | undefined,
  seconds = SECONDS,
  /** A number of requests to send instead of a duration (the run ends when they are answered). */
  amount?: number,
): Promise<LoadResult & { ranOut: boolean; stale: number }> {
  let maxRss = rssMb(pid);
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssMb(pid))), 250);
  const cpu0 = cpuMs(pid);
  let ranOut = false;
  /** Requests sent after the items ran out (each repeats a used one, so it fails), until the stop takes hold. */
  let stale = 0;
  let last: BenchRequest | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: baseUrl,
        connections: CONNECTIONS,
        ...(amount ? { amount } : { duration: seconds }),
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req) => {
              const r = next() ?? last;
              if (r !== last) last = r;
              else if (!ranOut) {
                ranOut = true;
                stale++;
                setImmediate(() => instance.stop());
              } else stale++;
              if (!r) return req;
              return {
                ...req,
                path: r.path,
                body: r.body,
                headers: {
                  ...req.headers,
                  ...(r.token ? { authorization: `Bearer ${r.token}` } : {}),
                },
              };
            },
          },
        ],
      },
      (err, res) => (err ? reject(err as Error) : resolve(res)),
    );
  });
  clearInterval(sampler);
  const total = result['2xx'] + result.non2xx;
  return {
    rps: result.requests.average,
    cpuUs: ((cpuMs(pid) - cpu0) * 1000) / Math.max(1, total),
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    other: result.non2xx,
    errors: result.errors + result.timeouts,
    rssMb: maxRss,
    ranOut,
    stale,
  };
}

/** `_check` load: each request a fresh valid code from `source`. */
export async function load(
  baseUrl: string,
  pid: number,
  source: CodeSource,
  token?: string,
  seconds = SECONDS,
): Promise<LoadResult> {
  const {
    ranOut: _ranOut,
    stale: _stale,
    ...result
  } = await loadRequests(
    baseUrl,
    pid,
    () => {
      const { userId, code } = source.next();
      return { path: `/v2/users/${userId}/totp/_check`, body: JSON.stringify({ code }), token };
    },
    seconds,
  );
  return result;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Creates `count` humans with a verified TOTP through the API; times register and verify. */
export async function enrol(
  baseUrl: string,
  token: string,
  orgId: string,
  count: number,
): Promise<{ users: BenchUser[]; report: string }> {
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const post = async (p: string, body: unknown) => {
    const res = await fetch(baseUrl + p, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const users: BenchUser[] = [];
  const reg: number[] = [];
  const ver: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { userId } = (await post('/v2/users/human', {
        organization: { orgId },
        username: `bench-${i}-${randomBytes(3).toString('hex')}`,
        profile: { givenName: 'Bench', familyName: 'User' },
        email: { email: `bench${i}@example.com`, isVerified: true },
      })) as { userId: string };
      let t = performance.now();
      const { secret } = (await post(`/v2/users/${userId}/totp`, {})) as { secret: string };
      reg.push(performance.now() - t);
      const key = decodeSecret(secret);
      // verify with the previous step's code, so T and T+1 stay available to the load
      const step = timeStep(Date.now()) - 1;
      t = performance.now();
      await post(`/v2/users/${userId}/totp/verify`, { code: hotp(key, step) });
      ver.push(performance.now() - t);
      users.push({ userId, key, lastStep: step });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const secs = (performance.now() - t0) / 1000;
  reg.sort((a, b) => a - b);
  ver.sort((a, b) => a - b);
  const report =
    `  enrolment (16 concurrent, create user + register + verify): ${count} users in ${secs.toFixed(1)} s, ` +
    `${(count / secs).toFixed(0)} register→verify/s; register p50 ${percentile(reg, 50).toFixed(1)} ms p99 ${percentile(reg, 99).toFixed(1)} ms, ` +
    `verify p50 ${percentile(ver, 50).toFixed(1)} ms p99 ${percentile(ver, 99).toFixed(1)} ms`;
  return { users, report };
}

/**
 * Clones `count` users with READY TOTPs from an enrolled template user, directly in the database:
 * every column copied from the template rows, with new ids, usernames and sealed secrets.
 */
export async function cloneUsers(
  dbEnv: Record<string, string>,
  masterKey: string,
  templateId: string,
  count: number,
): Promise<BenchUser[]> {
  const box = new SecretBox({
    crypto: { keyId: 'k1', key: Buffer.from(masterKey, 'base64'), oldKeys: {} },
  } as unknown as AppConfig);
  const lastStep = timeStep(Date.now()) - 2;
  const base = BigInt(templateId) % 10n ** 17n;
  const users: BenchUser[] = [];
  const rows: { user: Record<string, unknown>; factor: Record<string, unknown> }[] = [];
  const insert = (table: string, row: Record<string, unknown>, n: number) =>
    `INSERT INTO ${table} (${Object.keys(row).join(', ')}) VALUES ` +
    Array.from(
      { length: n },
      (_, r) =>
        `(${Object.keys(row)
          .map((_k, c) => `$${r * Object.keys(row).length + c + 1}`)
          .join(', ')})`,
    ).join(', ');
  const build = (user: Record<string, unknown>, factor: Record<string, unknown>) => {
    for (let i = 1; i <= count; i++) {
      const userId = String(9n * 10n ** 17n + ((base + BigInt(i) * 7919n) % 10n ** 17n));
      const secret = newTotpSecret();
      users.push({ userId, key: decodeSecret(secret), lastStep });
      rows.push({
        user: { ...user, id: userId, username: `clone-${i}-${userId}` },
        factor: {
          ...factor,
          user_id: userId,
          state: 'READY',
          secret_sealed: box.seal(secret, userId),
          last_step: lastStep,
          failed_attempts: 0,
          window_started_at: 0,
          lockouts: 0,
          locked_until: 0,
        },
      });
    }
  };
  if (dbEnv.DATABASE_URL.startsWith('sqlite:')) {
    const db = new Database(dbEnv.DATABASE_URL.slice('sqlite:'.length), { timeout: 10_000 });
    build(
      db.prepare('SELECT * FROM users WHERE id = ?').get(templateId) as Record<string, unknown>,
      db.prepare('SELECT * FROM totp_factors WHERE user_id = ?').get(templateId) as Record<string, unknown>,
    );
    const named = (row: Record<string, unknown>) =>
      Object.fromEntries(Object.values(row).map((v, i) => [i + 1, v]));
    const u = db.prepare(insert('users', rows[0].user, 1));
    const f = db.prepare(insert('totp_factors', rows[0].factor, 1));
    db.transaction(() => rows.forEach((r) => (u.run(named(r.user)), f.run(named(r.factor)))))();
    db.close();
  } else {
    const c = new Client({
      connectionString: dbEnv.DATABASE_URL,
      options: `-c search_path=${dbEnv.DATABASE_SCHEMA}`,
    });
    await c.connect();
    try {
      build(
        (await c.query('SELECT * FROM users WHERE id = $1', [templateId])).rows[0] as Record<string, unknown>,
        (await c.query('SELECT * FROM totp_factors WHERE user_id = $1', [templateId])).rows[0] as Record<
          string,
          unknown
        >,
      );
      await c.query('BEGIN');
      for (let i = 0; i < rows.length; i += 500) {
        const batch = rows.slice(i, i + 500);
        await c.query(
          insert('users', batch[0].user, batch.length),
          batch.flatMap((r) => Object.values(r.user)),
        );
        await c.query(
          insert('totp_factors', batch[0].factor, batch.length),
          batch.flatMap((r) => Object.values(r.factor)),
        );
      }
      await c.query('COMMIT');
      // what autovacuum does within a minute of a bulk load: without it the planner takes the grown
      // tables for the few rows it last saw and reads them whole
      await c.query('ANALYZE users, totp_factors');
    } finally {
      await c.end();
    }
  }
  return users;
}

export function line(name: string, r: LoadResult): string {
  return (
    `  ${name.padEnd(34)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${String(r.p50).padStart(3)} ms  p99 ${String(r.p99).padStart(3)} ms  ` +
    `CPU ${r.cpuUs.toFixed(0)} µs/req  ` +
    `RSS ${r.rssMb.toFixed(0)} MB  (2xx ${r.ok}, other ${r.other}, errors ${r.errors})`
  );
}

/** The HTTP adapters to load, in order (BENCH_ADAPTERS, default both, Fastify first). */
export const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'fastify,express')
  .split(',')
  .map((a) => a.trim())
  .filter(Boolean);

export async function benchDatabase(
  db: 'sqlite' | 'postgres',
): Promise<{ app: Record<string, LoadResult>; raw: LoadResult }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-bench-'));
  const schema = `bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const pgUrl = process.env.TEST_DATABASE_URL ?? '';
  const dbEnv: Record<string, string> =
    db === 'sqlite'
      ? { DATABASE_URL: `sqlite:${path.join(dir, 'mfa.sqlite')}` }
      : { DATABASE_URL: pgUrl, DATABASE_SCHEMA: schema };
  const masterKey = randomBytes(32).toString('base64');
  const startApp = async (adapter: string, metrics = true): Promise<{ child: ChildProcess; url: string }> => {
    const port = await freePort();
    const metricsPort = metrics ? await freePort() : 0;
    const child = start('src/main.js', {
      ...dbEnv,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      MASTER_KEY: masterKey,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      HTTP_ADAPTER: adapter,
      METRICS_PORT: String(metricsPort),
      GRPC_PORT: '0',
      METRICS_HOST: '127.0.0.1',
    });
    const url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/healthz`, child);
    return { child, url };
  };
  let app = await startApp(ADAPTERS[0]);
  try {
    const token = fs.readFileSync(path.join(dir, 'admin.pat'), 'utf8').trim();
    const orgRes = await fetch(`${app.url}/v2/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench-${randomBytes(3).toString('hex')}` }),
    });
    const { organizationId } = (await orgRes.json()) as { organizationId: string };
    // each adapter with metrics on, then the first one again with metrics off (and on, off, … for more rounds)
    const variants = [
      ...ADAPTERS.map((adapter) => ({ adapter, metrics: true, round: 1 })),
      ...Array.from({ length: METRICS_ROUNDS }, (_, r) => [
        { adapter: ADAPTERS[0], metrics: false, round: r + 1 },
        ...(r + 1 < METRICS_ROUNDS ? [{ adapter: ADAPTERS[0], metrics: true, round: r + 2 }] : []),
      ]).flat(),
    ];
    const label = (v: { adapter: string; metrics: boolean; round: number }) =>
      `${v.adapter}${v.metrics ? '' : ', metrics off'}${v.round > 1 ? ` #${v.round}` : ''}`;
    const pools = variants.length + 2;
    console.log(
      `\n${db}: enrolling ${ENROL} users through the API (${ADAPTERS[0]}), cloning ${pools * USERS} …`,
    );
    const { users: enrolled, report } = await enrol(app.url, token, organizationId, ENROL);
    console.log(report);
    const users = await cloneUsers(dbEnv, masterKey, enrolled[0].userId, pools * USERS);

    const results: Record<string, LoadResult> = {};
    const sources: CodeSource[] = [];
    for (const [i, v] of variants.entries()) {
      if (i > 0) app = await startApp(v.adapter, v.metrics);
      sources.push(new CodeSource(users.slice(i * USERS, (i + 1) * USERS)));
      results[label(v)] = await load(app.url, app.child.pid!, sources[i], token);
      await stop(app.child);
    }
    const rawSource = new CodeSource(users.slice(variants.length * USERS));
    sources.push(rawSource);
    const rawPort = await freePort();
    const raw = start('bench/raw-baseline.js', { ...dbEnv, PORT: String(rawPort), MASTER_KEY: masterKey });
    let rawResult: LoadResult;
    try {
      await new Promise<void>((resolve, reject) => {
        raw.once('message', () => resolve());
        raw.once('exit', (c) => reject(new Error(`baseline exited with ${c}`)));
      });
      rawResult = await load(`http://127.0.0.1:${rawPort}`, raw.pid!, rawSource);
    } finally {
      await stop(raw);
    }
    for (const name of Object.keys(results)) console.log(line(`service _check (${name})`, results[name]));
    console.log(line('raw baseline (node:http + driver)', rawResult));
    for (const name of Object.keys(results)) {
      const r = results[name];
      console.log(
        `  ratio service (${name})/raw: ${(r.rps / rawResult.rps).toFixed(2)}x req/s, ` +
          `${(rawResult.cpuUs / r.cpuUs).toFixed(2)}x by server CPU per request`,
      );
    }
    const mean = (metrics: boolean, key: 'rps' | 'cpuUs') => {
      const runs = variants
        .filter((v) => v.adapter === ADAPTERS[0] && v.metrics === metrics)
        .map((v) => results[label(v)][key]);
      return runs.reduce((a, b) => a + b, 0) / runs.length;
    };
    console.log(
      `  metrics on vs off (${ADAPTERS[0]}, ${METRICS_ROUNDS} round(s)): ` +
        `${(((mean(true, 'rps') - mean(false, 'rps')) / mean(false, 'rps')) * 100).toFixed(1)}% req/s, ` +
        `${(mean(true, 'cpuUs') - mean(false, 'cpuUs')).toFixed(0)} µs server CPU per request`,
    );
    console.log(`  load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
    const exhausted = sources.reduce((n, src) => n + src.exhausted, 0);
    if (exhausted > 0) console.log(`  note: ${exhausted} requests had no fresh code left; raise BENCH_USERS`);
    return { app: results, raw: rawResult };
  } finally {
    await stop(app.child);
    fs.rmSync(dir, { recursive: true, force: true });
    if (db === 'postgres') {
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  }
}

const FLOOR_STACKS = ['node-http', 'fastify', 'nest-fastify', 'nest-express'] as const;

/**
 * The floor of each HTTP stack on this machine: the same request answered with a constant after
 * parsing its JSON body (bench/floor-server.ts). What a stack costs before any work of ours starts.
 */
export async function runFloor(
  seconds = Number(process.env.BENCH_FLOOR_SECONDS ?? 5),
): Promise<Record<string, LoadResult>> {
  console.log(
    `\nHTTP stack floor (POST …/totp/_check answered with a constant, ${CONNECTIONS} connections, ${seconds} s each):`,
  );
  const dummy = Array.from({ length: 1000 }, (_, i) => ({
    userId: String(10n ** 17n + BigInt(i)),
    key: randomBytes(20),
    lastStep: 0,
  }));
  const results: Record<string, LoadResult> = {};
  for (const stack of FLOOR_STACKS) {
    const port = await freePort();
    const child = start('bench/floor-server.js', { PORT: String(port), FLOOR_STACK: stack });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (c) => reject(new Error(`floor server ${stack} exited with ${c}`)));
      });
      results[stack] = await load(
        `http://127.0.0.1:${port}`,
        child.pid!,
        new CodeSource(dummy),
        undefined,
        seconds,
      );
      console.log(line(`floor ${stack}`, results[stack]));
    } finally {
      await stop(child);
    }
  }
  return results;
}

export async function runCheckBench(): Promise<void> {
  console.log(
    `\nPOST /v2/users/{id}/totp/_check: ${CONNECTIONS} connections, ${SECONDS} s each; ${USERS} users per service run, ${2 * USERS} for the baseline`,
  );
  compile();
  if (process.env.BENCH_FLOOR !== '0') await runFloor();
  // BENCH_DB: a comma list; `sqlite`, `sqlite-normal` or `sqlite-full` pick SQLite, `postgres` PostgreSQL
  const only = process.env.BENCH_DB?.split(',').map((s) => s.trim());
  if (!only || only.some((s) => s.startsWith('sqlite'))) await benchDatabase('sqlite');
  if (process.env.TEST_DATABASE_URL && (!only || only.includes('postgres'))) await benchDatabase('postgres');
  else console.log('\npostgres: skipped (set TEST_DATABASE_URL to include it)');
}

if (require.main === module) {
  runCheckBench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
