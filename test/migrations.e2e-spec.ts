import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource, getMetadataArgsStorage } from 'typeorm';
import { buildDataSourceOptions, openDatabase } from '../src/common/database/data-source';
import { MIGRATIONS } from '../src/common/database/migrations';
import { ENTITIES } from '../src/entities';
import { createTestApp, E2E_DB, PG_URL, TestApp } from './helpers/test-app';

const ROOT = path.resolve(__dirname, '..');

/** The SQL TypeORM would still run to make the schema match the entities. */
async function pendingSchemaChanges(ds: DataSource): Promise<string[]> {
  const sql = await ds.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}

function expectNoDrift(changes: string[], where: string): void {
  if (changes.length > 0) {
    throw new Error(
      `Entities and migrations differ on ${where}; run \`npm run migration:generate -- <Name>\`. Missing SQL:\n  ` +
        changes.join('\n  '),
    );
  }
}

/** A database of its own for this test: a new SQLite file or a new PostgreSQL schema. */
async function scratchDatabase(): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-mig-'));
  const base = { DATA_DIR: dir, MASTER_KEY: randomBytes(32).toString('base64') };
  if (E2E_DB === 'sqlite') {
    return {
      env: { ...base, DATABASE_URL: `sqlite:${path.join(dir, 'mig.sqlite')}` },
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `mig_${process.pid}_${randomBytes(4).toString('hex')}`;
  const pg = async (sql: string) => {
    const client = new Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  // The app creates its schema itself; the TypeORM CLI expects it to exist.
  await pg(`CREATE SCHEMA "${schema}"`);
  return {
    env: { ...base, DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: '2' },
    drop: async () => {
      await pg(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function optionsFor(env: Record<string, string>) {
  const database =
    E2E_DB === 'sqlite'
      ? { type: 'sqlite' as const, path: env.DATABASE_URL.slice('sqlite:'.length) }
      : { type: 'postgres' as const, url: env.DATABASE_URL, schema: env.DATABASE_SCHEMA, poolSize: 2 };
  return buildDataSourceOptions(database, ENTITIES, MIGRATIONS);
}

async function appliedMigrations(env: Record<string, string>): Promise<string[]> {
  const ds = new DataSource(optionsFor(env));
  await ds.initialize();
  try {
    const rows = (await ds.query('SELECT name FROM migrations ORDER BY id')) as { name: string }[];
    return rows.map((r) => r.name);
  } finally {
    await ds.destroy();
  }
}

describe(`migrations (${E2E_DB})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('are all applied at start-up and leave nothing for the schema builder to change', async () => {
    const ds = t.app.get(DataSource);
    expect(await ds.showMigrations()).toBe(false);
    expectNoDrift(await pendingSchemaChanges(ds), E2E_DB);
  });

  it('create a table with every column for each entity in src/entities.ts', async () => {
    const ds = t.app.get(DataSource);
    const registered = new Set(ds.entityMetadatas.map((m) => m.target));
    for (const entity of ENTITIES) expect(registered.has(entity)).toBe(true);
    const qr = ds.createQueryRunner();
    try {
      for (const meta of ds.entityMetadatas) {
        const table = await qr.getTable(meta.tablePath);
        expect({ entity: meta.name, table: table?.name ?? 'missing' }).toEqual({
          entity: meta.name,
          table: expect.stringContaining(meta.tableName),
        });
        const columns = new Set(table!.columns.map((c) => c.name));
        for (const column of meta.columns) {
          expect({
            entity: meta.name,
            column: column.databaseName,
            exists: columns.has(column.databaseName),
          }).toEqual({
            entity: meta.name,
            column: column.databaseName,
            exists: true,
          });
        }
      }
    } finally {
      await qr.release();
    }
  });

  it('src/entities.ts lists every @Entity class under src/', async () => {
    const files = (fs.readdirSync(path.join(ROOT, 'src'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.entity.ts'))
      .map((f) => path.join(ROOT, 'src', f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) await import(file);
    const listed = new Set<unknown>(ENTITIES);
    const missing = getMetadataArgsStorage()
      .tables.filter((table) => table.type === 'regular' && !listed.has(table.target))
      .map((table) => (typeof table.target === 'function' ? table.target.name : table.target));
    expect(missing).toEqual([]);
  });

  it('revert completely and apply again', async () => {
    const scratch = await scratchDatabase();
    const ds = await openDatabase(optionsFor(scratch.env));
    try {
      for (let i = 0; i < MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: 'each' });
      const qr = ds.createQueryRunner();
      try {
        for (const meta of ds.entityMetadatas)
          expect({ [meta.tableName]: await qr.hasTable(meta.tablePath) }).toEqual({
            [meta.tableName]: false,
          });
      } finally {
        await qr.release();
      }
      await ds.runMigrations({ transaction: 'each' });
      expectNoDrift(await pendingSchemaChanges(ds), `${E2E_DB} after revert and re-apply`);
    } finally {
      await ds.destroy();
      await scratch.drop();
    }
  });

  it('run and revert with `npm run migration:run` / `migration:revert` (ormconfig.ts)', async () => {
    const scratch = await scratchDatabase();
    try {
      const npm = (script: string) => {
        const r = spawnSync('npm', ['run', '--silent', script], {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            TS_NODE_TRANSPILE_ONLY: 'true',
            ...scratch.env,
          },
          encoding: 'utf8',
          timeout: 120_000,
        });
        expect({ script, status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({
          script,
          status: 0,
          stderr: '',
        });
        return r.stdout;
      };
      const names = MIGRATIONS.map((m) => m.name);
      expect(npm('migration:run')).toContain(
        `Migration ${names[names.length - 1]} has been executed successfully`,
      );
      expect(await appliedMigrations(scratch.env)).toEqual(names);
      expect(npm('migration:revert')).toContain(
        `Migration ${names[names.length - 1]} has been reverted successfully`,
      );
      expect(await appliedMigrations(scratch.env)).toEqual(names.slice(0, -1));
    } finally {
      await scratch.drop();
    }
  });
});
