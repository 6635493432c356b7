import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { sqliteConnection } from './driver-handle';
import { SqliteGroupCommit } from './sqlite-group-commit';
import { TransactionRunner } from './transaction-runner';

/** The group commit against a real SQLite file, watched through a second connection. */
describe('SqliteGroupCommit', () => {
  let dir: string;
  let ds: DataSource;
  let runner: TransactionRunner;
  let commits: SqliteGroupCommit;
  let db: Database.Database;
  let other: Database.Database;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-'));
    const file = path.join(dir, 'db.sqlite');
    ds = new DataSource({
      type: 'better-sqlite3',
      database: file,
      prepareDatabase: (d: Database.Database) => void d.pragma('journal_mode = WAL'),
    });
    await ds.initialize();
    await ds.query('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    db = sqliteConnection(ds);
    other = new Database(file, { readonly: true });
    runner = new TransactionRunner(ds);
    commits = new SqliteGroupCommit(ds, runner);
  });

  afterEach(async () => {
    other.close();
    await ds.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const insert =
    (k: string, v = 1) =>
    () =>
      db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v).changes;
  const seen = (k: string) => other.prepare('SELECT v FROM t WHERE k = ?').get(k) !== undefined;

  it('runs the units of one turn in one transaction and settles them after its commit', async () => {
    const observed: boolean[] = [];
    const first = commits.run(insert('a'));
    const second = commits.run(() => {
      // the first unit's write is not committed yet: both are in one open transaction
      observed.push(db.inTransaction, seen('a'));
      return insert('b')();
    });
    const settledWhenCommitted = first.then(() => seen('a') && seen('b'));
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(observed).toEqual([true, false]);
    expect(await settledWhenCommitted).toBe(true);
  });

  it('undoes only the writes of a unit that throws, which rejects with its error', async () => {
    const failing = commits.run(() => {
      insert('b')();
      throw new Error('judged wrong');
    });
    const results = await Promise.allSettled([commits.run(insert('a')), failing, commits.run(insert('c'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('judged wrong'));
    expect([seen('a'), seen('b'), seen('c')]).toEqual([true, false, true]);
  });

  it('fails the whole group when the transaction cannot commit, storing nothing', async () => {
    const results = await Promise.allSettled([
      commits.run(insert('a')),
      // ends the group's transaction behind the runner's back: its COMMIT then fails
      commits.run(() => db.prepare('ROLLBACK').run()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(seen('a')).toBe(false);
    // the runner goes on working afterwards
    await expect(commits.run(insert('d'))).resolves.toBe(1);
    expect(seen('d')).toBe(true);
  });

  it('never lands inside an open TypeORM transaction: a group waits for it', async () => {
    const order: string[] = [];
    let release!: () => void;
    const open = runner.run(async (em) => {
      await em.query(`INSERT INTO t (k, v) VALUES ('x', 1)`);
      order.push('run wrote');
      await new Promise<void>((r) => (release = r));
      order.push('run ends');
    });
    await new Promise((r) => setTimeout(r, 10));
    const grouped = commits.run(() => {
      order.push('group runs');
      return insert('y')();
    });
    await new Promise((r) => setTimeout(r, 10));
    release();
    await Promise.all([open, grouped]);
    expect(order).toEqual(['run wrote', 'run ends', 'group runs']);
    expect([seen('x'), seen('y')]).toEqual([true, true]);
  });
});

describe('SqliteGroupCommit on PostgreSQL', () => {
  it('refuses to be built: PostgreSQL has no group commit, so nothing can run in it without a transaction', () => {
    const ds = new DataSource({ type: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none' });
    expect(() => new SqliteGroupCommit(ds, new TransactionRunner(ds))).toThrow('not a SQLite data source');
  });
});
