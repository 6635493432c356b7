import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source';

describe('SQLite data source', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-ds-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const pragmas = async (synchronous?: 'full' | 'normal', cacheMb?: number) => {
    const ds = new DataSource(
      buildDataSourceOptions(
        { type: 'sqlite', path: path.join(dir, 'x.sqlite'), synchronous, cacheMb },
        [],
        [],
      ),
    );
    await ds.initialize();
    try {
      const [{ synchronous: level }] = (await ds.query('PRAGMA synchronous')) as { synchronous: number }[];
      const [{ journal_mode: mode }] = (await ds.query('PRAGMA journal_mode')) as { journal_mode: string }[];
      const [{ cache_size: cache }] = (await ds.query('PRAGMA cache_size')) as { cache_size: number }[];
      return { level, mode, cache };
    } finally {
      await ds.destroy();
    }
  };

  it('runs in WAL mode with FULL commits and a 16 MiB page cache by default', async () => {
    expect(await pragmas()).toEqual({ level: 2, mode: 'wal', cache: -16 * 1024 });
  });

  it('keeps SQLITE_SYNCHRONOUS=normal once WAL mode is on', async () => {
    expect(await pragmas('normal')).toEqual({ level: 1, mode: 'wal', cache: -16 * 1024 });
  });

  it('sizes the page cache by SQLITE_CACHE_MB', async () => {
    expect((await pragmas('full', 64)).cache).toBe(-64 * 1024);
  });
});
