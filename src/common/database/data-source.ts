import { DataSource, DataSourceOptions, MixedList } from 'typeorm';
import { DatabaseConfig, DEFAULT_SQLITE_CACHE_MB } from '../config/app-config';
import { preparePrivateSqliteFile } from '../files/private-files';
import { boundedPg } from './bounded-pool';

type EntityList = MixedList<string | (new () => unknown)>;
type MigrationList = MixedList<string | (new () => unknown)>;

/** TypeORM options for the configured database. Never `synchronize`: the schema is the migrations'. */
export function buildDataSourceOptions(
  db: DatabaseConfig,
  entities: EntityList,
  migrations: MigrationList,
): DataSourceOptions {
  const common = { entities, migrations, synchronize: false, migrationsRun: false, logging: false } as const;
  if (db.type === 'sqlite') {
    if (db.path !== ':memory:') preparePrivateSqliteFile(db.path);
    return {
      ...common,
      type: 'better-sqlite3',
      database: db.path,
      enableWAL: true,
      timeout: 10_000,
      // FULL: every commit is on disk before the answer (an accepted code's step survives a power cut).
      // NORMAL: WAL's lighter mode, safe against corruption and process crashes, not against power loss.
      prepareDatabase: (conn: { pragma(sql: string): unknown }) => {
        conn.pragma(`synchronous = ${(db.synchronous ?? 'full').toUpperCase()}`);
        // SQLite's own default is 2 MiB: at a million users each lookup then reads index pages from the
        // OS again, and a request cost 12-14 % more than at 30 000 users (16 MiB: 0-7 %). The pages
        // count in the process's RSS.
        conn.pragma(`cache_size = -${(db.cacheMb ?? DEFAULT_SQLITE_CACHE_MB) * 1024}`);
      },
    };
  }
  const bounds = db.bounds;
  return {
    ...common,
    type: 'postgres',
    url: db.url,
    schema: db.schema,
    ...(bounds ? { driver: boundedPg(bounds.maxWaiting) } : {}),
    extra: {
      max: db.poolSize,
      ...(db.schema ? { options: `-c search_path=${db.schema}` } : {}),
      ...(bounds
        ? {
            connectionTimeoutMillis: bounds.connectTimeoutMs,
            // The server cancels a statement after this (and rolls its transaction back) …
            statement_timeout: bounds.statementTimeoutMs,
            // … and the client gives up on a server that does not answer at all (frozen, network gone).
            query_timeout: bounds.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
            keepAlive: true,
          }
        : {}),
    },
  };
}

/** How much longer than the server's statement_timeout the client waits for an answer. */
const QUERY_TIMEOUT_MARGIN_MS = 1000;

/** The options without the time bounds: migrations may legitimately run long (e.g. building an index). */
function unbounded(options: DataSourceOptions): DataSourceOptions {
  if (options.type !== 'postgres' || !options.driver) return options;
  const extra = { ...(options.extra as Record<string, unknown>) };
  for (const key of ['connectionTimeoutMillis', 'statement_timeout', 'query_timeout']) delete extra[key];
  return { ...options, driver: undefined, extra: { ...extra, max: 2 } };
}

const MIGRATION_LOCK = 727_413_001;

/**
 * Connects, creates the schema if one is configured, and applies pending migrations. On PostgreSQL
 * an advisory lock makes concurrent starts of several instances take turns, and the migrations run
 * on a connection of their own without the statement and connection time bounds.
 */
export async function openDatabase(options: DataSourceOptions): Promise<DataSource> {
  const plain = unbounded(options);
  if (plain !== options) {
    await (await migrate(plain)).destroy();
    const ds = new DataSource(options);
    await ds.initialize();
    return ds;
  }
  return migrate(options);
}

async function migrate(options: DataSourceOptions): Promise<DataSource> {
  const ds = new DataSource(options);
  await ds.initialize();
  try {
    if (options.type === 'postgres') {
      const qr = ds.createQueryRunner();
      try {
        await qr.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
        if (options.schema) await qr.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
        await ds.runMigrations({ transaction: 'each' });
      } finally {
        await qr.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
        await qr.release();
      }
    } else {
      await ds.runMigrations({ transaction: 'each' });
    }
  } catch (e) {
    await ds.destroy().catch(() => undefined);
    throw e;
  }
  return ds;
}
