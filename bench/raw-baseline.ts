/**
 * The raw baseline of the `_check` path: node:http, JSON body, one indexed read of the factor, AES-GCM
 * open of the secret and the node:crypto RFC 6238 match, one conditional replay write – on the same
 * database the service uses, through the driver with prepared statements. No framework, no auth, no
 * events, no attempt counting. Started as a child process by bench/totp-check.bench.ts.
 * Env: PORT, DATABASE_URL (sqlite:<file> | postgres://…), DATABASE_SCHEMA, MASTER_KEY.
 */
import Database from 'better-sqlite3';
import * as http from 'node:http';
import { Pool } from 'pg';
import { AppConfig } from '../src/common/config/app-config';
import { SecretBox } from '../src/common/crypto/secret-box';
import { matchStep } from '../src/totp/totp-algorithm';

const READ = 'SELECT secret_sealed, last_step FROM totp_factors WHERE user_id = $1';
const WRITE = 'UPDATE totp_factors SET last_step = $2 WHERE user_id = $1 AND last_step < $2';

interface Store {
  read(userId: string): Promise<{ secret_sealed: string; last_step: number | string } | undefined>;
  consume(userId: string, step: number): Promise<boolean>;
}

function sqliteStore(file: string): Store {
  const db = new Database(file, { timeout: 10_000 });
  db.pragma('journal_mode = WAL');
  // the service's setting (SQLITE_SYNCHRONOUS, default full), so both pay the same for a commit
  db.pragma(`synchronous = ${(process.env.SQLITE_SYNCHRONOUS ?? 'full').toUpperCase()}`);
  // `$n` are named parameters to SQLite, bound by number
  const read = db.prepare(READ);
  const write = db.prepare(WRITE);
  return {
    read: async (userId) =>
      read.get({ 1: userId }) as { secret_sealed: string; last_step: number } | undefined,
    consume: async (userId, step) => write.run({ 1: userId, 2: step }).changes === 1,
  };
}

function postgresStore(url: string, schema?: string): Store {
  const pool = new Pool({
    connectionString: url,
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  return {
    read: async (userId) => (await pool.query({ name: 'read', text: READ, values: [userId] })).rows[0],
    consume: async (userId, step) =>
      ((await pool.query({ name: 'write', text: WRITE, values: [userId, step] })).rowCount ?? 0) === 1,
  };
}

function main(): void {
  const url = process.env.DATABASE_URL!;
  const store = url.startsWith('sqlite:')
    ? sqliteStore(url.slice('sqlite:'.length))
    : postgresStore(url, process.env.DATABASE_SCHEMA);
  const box = new SecretBox({
    crypto: { keyId: 'k1', key: Buffer.from(process.env.MASTER_KEY!, 'base64'), oldKeys: {} },
  } as unknown as AppConfig);
  const route = /^\/v2\/users\/(\d{1,20})\/totp\/_check$/;

  const server = http.createServer((req, res) => {
    const m = req.method === 'POST' ? route.exec(req.url ?? '') : null;
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const reply = (status: number, body: unknown) => {
          const text = JSON.stringify(body);
          res
            .writeHead(status, {
              'Content-Type': 'application/json',
              'Content-Length': Buffer.byteLength(text),
            })
            .end(text);
        };
        try {
          const { code } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown };
          const row = typeof code === 'string' ? await store.read(m[1]) : undefined;
          if (!row) return reply(404, { code: 5, message: 'not found' });
          const now = Date.now();
          const step = matchStep(box.open(row.secret_sealed, m[1]), code as string, now);
          if (step === undefined || step <= Number(row.last_step) || !(await store.consume(m[1], step))) {
            return reply(400, { code: 3, message: 'Invalid code' });
          }
          reply(200, { details: { sequence: '0', changeDate: new Date(now).toISOString() } });
        } catch {
          reply(500, { code: 13, message: 'internal' });
        }
      })();
    });
  });
  server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
}

main();
