/**
 * Direct database seeding for the load tests: what each operation needs (users, factors, pending
 * codes, challenges, tokens) written straight into the tables the migrations create, in one
 * transaction, so thousands of fresh rows exist before a timed run and the seeding is never timed.
 * Secrets are sealed with the project's SecretBox and codes hashed with its CodeHasher under the
 * contexts the services use, so the service accepts every seeded code exactly as one it issued.
 * Depends only on the schema (src/common/database/migrations), not on entities or repositories.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Client } from 'pg';
import { AppConfig } from '../src/common/config/app-config';
import { CodeHasher } from '../src/common/crypto/code-hasher';
import { SecretBox } from '../src/common/crypto/secret-box';

export type Row = Record<string, unknown>;

/** A connection to the service's database for seeding: bulk inserts and single reads. */
export interface SeedDb {
  readonly kind: 'sqlite' | 'postgres';
  /** A boolean column value as the driver stores it. */
  bool(v: boolean): unknown;
  one(sql: string, params: unknown[]): Promise<Row | undefined>;
  /** Inserts all rows (same columns each) in one transaction. */
  insert(table: string, rows: Row[]): Promise<void>;
  /** Several inserts in one transaction. */
  insertAll(batches: [string, Row[]][]): Promise<void>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export async function openSeedDb(dbEnv: Record<string, string>): Promise<SeedDb> {
  const url = dbEnv.DATABASE_URL;
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length), { timeout: 30_000 });
    // this connection only: the seeding need not survive a power cut, the service's commits keep theirs
    db.pragma('synchronous = OFF');
    const statements = new Map<string, Database.Statement>();
    const write = (table: string, rows: Row[]) => {
      if (rows.length === 0) return;
      const cols = Object.keys(rows[0]);
      const sql = `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`;
      let st = statements.get(sql);
      if (!st) statements.set(sql, (st = db.prepare(sql)));
      for (const r of rows) st.run(cols.map((c) => r[c]));
    };
    const insertAll = async (batches: [string, Row[]][]) =>
      db.transaction(() => batches.forEach(([t, rows]) => write(t, rows)))();
    return {
      kind: 'sqlite',
      bool: (v) => (v ? 1 : 0),
      one: async (sql, params) => db.prepare(sql.replace(/\$\d+/g, '?')).get(...params) as Row | undefined,
      insert: (table, rows) => insertAll([[table, rows]]),
      insertAll,
      exec: async (sql) => void db.exec(sql),
      close: async () => void db.close(),
    };
  }
  const c = new Client({ connectionString: url, options: `-c search_path=${dbEnv.DATABASE_SCHEMA}` });
  await c.connect();
  const write = async (table: string, rows: Row[]) => {
    if (rows.length === 0) return;
    const cols = Object.keys(rows[0]);
    // as many rows per statement as the protocol's 65535 parameters allow
    const per = Math.min(1000, Math.floor(60_000 / cols.length));
    for (let i = 0; i < rows.length; i += per) {
      const batch = rows.slice(i, i + per);
      const values = batch
        .map((_, r) => `(${cols.map((_c, k) => `$${r * cols.length + k + 1}`).join(', ')})`)
        .join(', ');
      await c.query(
        `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values}`,
        batch.flatMap((r) => cols.map((k) => r[k])),
      );
    }
  };
  const insertAll = async (batches: [string, Row[]][]) => {
    await c.query('BEGIN');
    try {
      for (const [t, rows] of batches) await write(t, rows);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    }
    // what autovacuum does within a minute of a bulk load, so the planner sees the grown tables
    await c.query(`ANALYZE ${[...new Set(batches.map(([t]) => t))].join(', ')}`);
  };
  return {
    kind: 'postgres',
    bool: (v) => v,
    one: async (sql, params) => (await c.query(sql, params)).rows[0] as Row | undefined,
    insert: (table, rows) => insertAll([[table, rows]]),
    insertAll,
    exec: async (sql) => void (await c.query(sql)),
    close: () => c.end(),
  };
}

/** The project's own sealing and code hashing under MASTER_KEY (k1, as the bench starts the service). */
export function benchCrypto(masterKey: string): { box: SecretBox; hasher: CodeHasher } {
  const config = {
    crypto: { keyId: 'k1', key: Buffer.from(masterKey, 'base64'), oldKeys: {} },
  } as unknown as AppConfig;
  return { box: new SecretBox(config), hasher: new CodeHasher(config) };
}

/** A numeric id of 18 digits, like the service's (random: unique across every seeding of a run). */
export function numericId(): string {
  return `9${randomBytes(8).readBigUInt64BE() % 10n ** 17n}`.padEnd(18, '0');
}

/** A fresh personal access token and the row that stores it (SHA-256 hex, as the token verifier looks it up). */
export function patRow(userId: string, now: number): { token: string; row: Row } {
  const token = 'mfa_' + randomBytes(32).toString('base64url');
  return {
    token,
    row: {
      id: numericId(),
      user_id: userId,
      token_hash: createHash('sha256').update(token, 'utf8').digest('hex'),
      expires_at: null,
      created_at: now,
    },
  };
}

/** `n` digits from the CSPRNG (a code as the service would send it). */
export function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(0, 10));
  return s;
}

let phoneCounter = 0;
/** A phone number of its own for each seeded user (the daily limit is per number). */
export function uniquePhone(): string {
  phoneCounter++;
  return `+1${String(2_000_000_000 + ((process.pid * 7_919 + phoneCounter) % 7_000_000_000))}`;
}
