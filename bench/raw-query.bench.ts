/**
 * What one rawQuery statement costs, through TypeORM's query runner (how rawQuery ran before) and on
 * the driver itself (how it runs now): CPU per statement for a primary-key read and an insert, outside
 * and inside a transaction, on SQLite and – when TEST_DATABASE_URL is set – PostgreSQL. Then the
 * SQLite group commit: 50 concurrent transactions with synchronous=FULL, one TypeORM transaction each
 * (one queued after the other, as TransactionRunner ran them before) against TransactionRunner.run;
 * and on PostgreSQL one UPDATE alone against the same UPDATE in a transaction of TransactionRunner.run.
 * Run: `npx ts-node --transpile-only bench/raw-query.bench.ts`. Nothing here asserts a time.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { buildDataSourceOptions } from '../src/common/database/data-source';
import { dialectOf, portableQuery, rawQuery } from '../src/common/database/db-dialect';
import { TransactionRunner } from '../src/common/database/transaction-runner';

/** rawQuery as it was: TypeORM's query runner, a new one per call on a DataSource. */
async function viaTypeorm(em: EntityManager | DataSource, text: string, params: unknown[] = []) {
  const { sql, params: bound } = portableQuery(dialectOf(em), text, params);
  const given = em instanceof DataSource ? undefined : em.queryRunner;
  const qr = given ?? (em instanceof DataSource ? em : em.connection).createQueryRunner();
  try {
    const result = await qr.query(sql, bound, true);
    return { rows: result.records ?? [], affected: result.affected ?? 0 };
  } finally {
    if (!given) await qr.release();
  }
}

type Query = typeof rawQuery;

/** CPU µs per statement (user + system) and wall µs per statement, statements run one after the other. */
async function perStatement(
  n: number,
  run: (i: number) => Promise<unknown>,
): Promise<{ cpu: number; wall: number }> {
  for (let i = 0; i < Math.min(n, 500); i++) await run(i); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await run(i);
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / n;
  const cpu = process.cpuUsage(cpu0);
  return { cpu: (cpu.user + cpu.system) / n, wall };
}

async function statements(label: string, ds: DataSource, n: number): Promise<void> {
  await ds.query('CREATE TABLE IF NOT EXISTS bench_t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  await ds.query('DELETE FROM bench_t');
  for (let i = 0; i < 1000; i++)
    await rawQuery(ds, 'INSERT INTO bench_t (k, v) VALUES ($1, $2)', [`k${i}`, i]);
  const runs: [string, Query][] = [
    ['TypeORM query runner', viaTypeorm as Query],
    ['driver (rawQuery now)', rawQuery],
  ];
  type Sample = { cpu: number; wall: number };
  const samples = new Map<string, { read: Sample[]; insert: Sample[] }>(
    runs.map(([how]) => [how, { read: [], insert: [] }]),
  );
  let tag = 0;
  // interleaved rounds, medians: the machine is shared
  for (let round = 0; round < 3; round++) {
    for (const [how, q] of runs) {
      const s = samples.get(how)!;
      s.read.push(
        await perStatement(n, (i) => q(ds, 'SELECT v FROM bench_t WHERE k = $1', [`k${i % 1000}`])),
      );
      s.insert.push(
        await ds.transaction((em) =>
          perStatement(n, (i) => q(em, 'INSERT INTO bench_t (k, v) VALUES ($1, $2)', [`${tag++}-${i}`, i])),
        ),
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (r: Sample[]) =>
    `${median(r.map((x) => x.cpu)).toFixed(1)} µs CPU, ${median(r.map((x) => x.wall)).toFixed(1)} µs wall`;
  for (const [how] of runs) {
    const s = samples.get(how)!;
    console.log(
      `${label} | ${how.padEnd(22)} | read by key: ${fmt(s.read)} | insert in a transaction: ${fmt(s.insert)}`,
    );
  }
}

async function groupCommit(dir: string): Promise<void> {
  const ds = new DataSource(
    buildDataSourceOptions(
      { type: 'sqlite', path: path.join(dir, 'group.sqlite'), synchronous: 'full' },
      [],
      [],
    ),
  );
  await ds.initialize();
  await ds.query('CREATE TABLE g (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  const unit = (k: string) => async (em: EntityManager) => {
    await rawQuery(em, 'INSERT INTO g (k, v) VALUES ($1, $2)', [k, 1]);
    await rawQuery(em, 'UPDATE g SET v = v + 1 WHERE k = $1', [k]);
  };
  // one TypeORM transaction per unit, one after the other on the one connection
  let tail: Promise<unknown> = Promise.resolve();
  const oneEach = <T>(work: (em: EntityManager) => Promise<T>) => {
    const next = tail.then(() => ds.transaction(work));
    tail = next.catch(() => undefined);
    return next;
  };
  const runner = new TransactionRunner(ds);
  const bursts = 10;
  for (const [how, run] of [
    ['one transaction per unit', oneEach],
    ['group commit (run now) ', (w: (em: EntityManager) => Promise<void>) => runner.run(w)],
  ] as const) {
    const latencies: number[] = [];
    const t0 = process.hrtime.bigint();
    for (let b = 0; b < bursts; b++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const s = process.hrtime.bigint();
          return run(unit(`${how}-${b}-${i}`)).then(() =>
            latencies.push(Number(process.hrtime.bigint() - s) / 1e6),
          );
        }),
      );
    }
    const total = Number(process.hrtime.bigint() - t0) / 1e6;
    latencies.sort((a, b) => a - b);
    const p = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
    console.log(
      `SQLite full | ${how} | ${bursts} bursts of 50: ${total.toFixed(0)} ms, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`,
    );
  }
  await ds.destroy();
}

/**
 * PostgreSQL: what wrapping a statement in a transaction costs (TransactionRunner.run: BEGIN, the
 * statement, COMMIT) against the statement alone on a connection of the pool.
 */
async function transactions(ds: DataSource, n: number): Promise<void> {
  const runner = new TransactionRunner(ds);
  const update = (em: EntityManager | DataSource, i: number) =>
    rawQuery(em, 'UPDATE bench_t SET v = v + 1 WHERE k = $1', [`k${i % 1000}`]);
  const runs: [string, (i: number) => Promise<unknown>][] = [
    ['one UPDATE alone       ', (i) => update(ds, i)],
    ['BEGIN, UPDATE, COMMIT  ', (i) => runner.run((em) => update(em, i))],
  ];
  const samples = new Map<string, { cpu: number; wall: number }[]>(runs.map(([how]) => [how, []]));
  for (let round = 0; round < 3; round++)
    for (const [how, run] of runs) samples.get(how)!.push(await perStatement(n, run));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [how] of runs) {
    const s = samples.get(how)!;
    console.log(
      `PostgreSQL | ${how} | ${median(s.map((x) => x.cpu)).toFixed(1)} µs CPU, ${median(s.map((x) => x.wall)).toFixed(1)} µs wall`,
    );
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raw-query-bench-'));
  try {
    const sqlite = new DataSource(
      buildDataSourceOptions(
        { type: 'sqlite', path: path.join(dir, 'db.sqlite'), synchronous: 'normal' },
        [],
        [],
      ),
    );
    await sqlite.initialize();
    await statements('SQLite    ', sqlite, 20_000);
    await sqlite.destroy();
    await groupCommit(dir);
    const url = process.env.TEST_DATABASE_URL;
    if (url) {
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      const admin = new Client({ connectionString: url });
      await admin.connect();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const pg = new DataSource(
        buildDataSourceOptions({ type: 'postgres', url, schema, poolSize: 5 }, [], []),
      );
      await pg.initialize();
      try {
        await statements('PostgreSQL', pg, 5_000);
        await transactions(pg, 3_000);
      } finally {
        await pg.destroy();
        await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
        await admin.end();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
