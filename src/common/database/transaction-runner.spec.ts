import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { currentScope, DEADLINE_EXCEEDED, RequestScope, runInScope } from '../http/request-scope';
import { rawQuery } from './db-dialect';
import { sqliteConnection } from './driver-handle';
import { SqliteGroupCommit } from './sqlite-group-commit';
import { MAX_GROUP, TransactionRunner } from './transaction-runner';

/** The SQLite group commit of TransactionRunner.run, against a real file watched through a second connection. */
describe('TransactionRunner on SQLite', () => {
  let dir: string;
  let ds: DataSource;
  let runner: TransactionRunner;
  let other: Database.Database;
  let statements: string[];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-runner-'));
    const file = path.join(dir, 'db.sqlite');
    ds = new DataSource({
      type: 'better-sqlite3',
      database: file,
      prepareDatabase: (d: Database.Database) => void d.pragma('journal_mode = WAL'),
    });
    await ds.initialize();
    await ds.query('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    await ds.query('CREATE TABLE parent (id TEXT PRIMARY KEY)');
    await ds.query(
      'CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)',
    );
    other = new Database(file, { readonly: true });
    runner = new TransactionRunner(ds);
    // every statement TypeORM's query runner runs (BEGIN, SAVEPOINT, COMMIT…); rawQuery bypasses it
    statements = [];
    const qr = ds.createQueryRunner();
    const query = qr.query.bind(qr);
    jest.spyOn(qr, 'query').mockImplementation((sql: string, ...rest: unknown[]) => {
      statements.push(sql);
      return (query as (...a: unknown[]) => Promise<unknown>)(sql, ...rest);
    });
  });

  afterEach(async () => {
    other.close();
    await ds.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const insert = (em: EntityManager, k: string, v = 1) =>
    rawQuery(em, 'INSERT INTO t (k, v) VALUES ($1, $2)', [k, v]).then((r) => r.affected);
  const seen = (k: string) => other.prepare('SELECT v FROM t WHERE k = ?').get(k) !== undefined;
  const count = (sql: string) => statements.filter((s) => s === sql).length;

  it('runs units that arrive together in one transaction with one COMMIT, settling each after it', async () => {
    const units = Array.from({ length: 50 }, (_, i) =>
      runner.run(async (em) => {
        await insert(em, `k${i}`);
        // TypeORM's own calls see the transaction too
        expect(em.queryRunner?.isTransactionActive).toBe(true);
        return i;
      }),
    );
    // each unit, when it is settled, is already visible to another connection: it was committed
    const visibleWhenSettled = units.map((u, i) => u.then(() => seen(`k${i}`)));
    expect(await Promise.all(units)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await Promise.all(visibleWhenSettled)).toEqual(Array(50).fill(true));
    expect(count('BEGIN TRANSACTION')).toBe(1);
    expect(count('COMMIT')).toBe(1);
    expect(count('SAVEPOINT typeorm_1')).toBe(50);
  });

  it('bounds a group: more units than MAX_GROUP take more than one COMMIT', async () => {
    const n = MAX_GROUP + 1;
    await Promise.all(Array.from({ length: n }, (_, i) => runner.run((em) => insert(em, `k${i}`))));
    expect(count('COMMIT')).toBe(2);
    expect(Number((other.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n)).toBe(n);
  });

  it('runs the units of a group one after the other, never interleaved, in arrival order', async () => {
    const order: string[] = [];
    const unit = (name: string) =>
      runner.run(async (em) => {
        order.push(`${name} starts`);
        await new Promise((r) => setTimeout(r, 5));
        await insert(em, name);
        order.push(`${name} ends`);
      });
    await Promise.all([unit('a'), unit('b'), unit('c')]);
    expect(order).toEqual(['a starts', 'a ends', 'b starts', 'b ends', 'c starts', 'c ends']);
  });

  it('undoes only the writes of a unit that throws; it rejects with its own error after the COMMIT', async () => {
    const failing = runner.run(async (em) => {
      await insert(em, 'b');
      throw new Error('judged wrong');
    });
    const committedWhenRejected = failing.catch(() => seen('a') && seen('c'));
    const results = await Promise.allSettled([
      runner.run((em) => insert(em, 'a')),
      failing,
      runner.run((em) => insert(em, 'c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('judged wrong'));
    expect([seen('a'), seen('b'), seen('c')]).toEqual([true, false, true]);
    expect(await committedWhenRejected).toBe(true);
    expect(count('COMMIT')).toBe(1);
  });

  it('a unit that fails on a constraint keeps its driver error; the unit after it still writes', async () => {
    await runner.run((em) => insert(em, 'a'));
    const results = await Promise.allSettled([
      runner.run((em) => insert(em, 'a')),
      runner.run((em) => insert(em, 'b')),
    ]);
    expect(results[0]).toMatchObject({
      status: 'rejected',
      reason: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' },
    });
    expect(results[1]).toEqual({ status: 'fulfilled', value: 1 });
  });

  it('fails every unit of the group when the COMMIT fails, storing nothing; the next group works', async () => {
    await ds.query('PRAGMA foreign_keys = ON');
    const results = await Promise.allSettled([
      runner.run((em) => insert(em, 'a')),
      // a deferred foreign key is checked at COMMIT: the whole group's COMMIT fails
      runner.run((em) => rawQuery(em, `INSERT INTO child (id, parent_id) VALUES ('c', 'missing')`)),
      runner.run((em) => insert(em, 'b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'SQLITE_CONSTRAINT_FOREIGNKEY',
    });
    expect([seen('a'), seen('b')]).toEqual([false, false]);
    expect(sqliteConnection(ds).inTransaction).toBe(false);
    await expect(runner.run((em) => insert(em, 'd'))).resolves.toBe(1);
    expect(seen('d')).toBe(true);
  });

  it('fails the group when a unit ends the whole transaction, and runs the units after it in the next one', async () => {
    const db = sqliteConnection(ds);
    const results = await Promise.allSettled([
      runner.run((em) => insert(em, 'a')),
      // as SQLITE_FULL or SQLITE_IOERR do: the transaction is rolled back under the unit
      runner.run(async () => {
        db.prepare('ROLLBACK').run();
        throw new Error('disk full');
      }),
      runner.run((em) => insert(em, 'c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect([seen('a'), seen('c')]).toEqual([false, true]);
    await expect(runner.run((em) => insert(em, 'b'))).resolves.toBe(1);
    expect(seen('b')).toBe(true);
  });

  it('refuses a unit whose request deadline passed while it waited for its turn; the others run', async () => {
    let release!: () => void;
    const blocked = runner.exclusive(() => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setImmediate(r));
    const answered = jest.fn();
    const scope = new RequestScope(answered);
    const work = jest.fn((em: EntityManager) => insert(em, 'late'));
    const late = runInScope(scope, () => runner.run(work));
    const onTime = runner.run((em) => insert(em, 'on time'));
    scope.expire();
    release();
    await blocked;
    await expect(late).rejects.toEqual(DEADLINE_EXCEEDED());
    await expect(onTime).resolves.toBe(1);
    expect(work).not.toHaveBeenCalled();
    expect([seen('late'), seen('on time')]).toEqual([false, true]);
  });

  it("runs each unit in its own caller's async context, not in that of the unit that opened the group", async () => {
    const scopes = [new RequestScope(jest.fn()), new RequestScope(jest.fn())];
    const seenScopes = await Promise.all([
      ...scopes.map((scope) => runInScope(scope, () => runner.run(async () => currentScope()))),
      runner.run(async () => currentScope()),
    ]);
    expect(seenScopes).toEqual([scopes[0], scopes[1], undefined]);
    expect(seenScopes[0]).toBe(scopes[0]);
    expect(seenScopes[1]).toBe(scopes[1]);
    expect(count('COMMIT')).toBe(1);
  });

  it('keeps the deadline waiting for the COMMIT: a unit running when it passes answers for itself', async () => {
    const answered = jest.fn();
    const scope = new RequestScope(answered);
    const unit = runInScope(scope, () =>
      runner.run(async (em) => {
        scope.expire();
        return insert(em, 'a');
      }),
    );
    await expect(unit).resolves.toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(answered).not.toHaveBeenCalled();
    expect(scope.settled).toBe(true);
  });

  it('shares its queue with SqliteGroupCommit: a synchronous group never lands inside a group of units', async () => {
    const commits = new SqliteGroupCommit(ds, runner);
    const db = sqliteConnection(ds);
    const order: string[] = [];
    let release!: () => void;
    const open = runner.run(async (em) => {
      await insert(em, 'x');
      order.push('unit wrote');
      await new Promise<void>((r) => (release = r));
      order.push('unit ends');
    });
    await new Promise((r) => setTimeout(r, 10));
    const grouped = commits.run(() => {
      order.push('synchronous group runs');
      return db.prepare(`INSERT INTO t (k, v) VALUES ('y', 1)`).run().changes;
    });
    await new Promise((r) => setTimeout(r, 10));
    release();
    await Promise.all([open, grouped]);
    expect(order).toEqual(['unit wrote', 'unit ends', 'synchronous group runs']);
    expect([seen('x'), seen('y')]).toEqual([true, true]);
  });
});
