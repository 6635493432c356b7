import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source';

describe('SQLite data source', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-ds-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const pragmas = async (synchronous?: 'full' | 'normal') => {
    const ds = new DataSource(
      buildDataSourceOptions({ type: 'sqlite', path: path.join(dir, 'x.sqlite'), synchronous }, [], []),
    );
    await ds.initialize();
    try {
      const [{ synchronous: level }] = (await ds.query('PRAGMA synchronous')) as { synchronous: number }[];
      const [{ journal_mode: mode }] = (await ds.query('PRAGMA journal_mode')) as { journal_mode: string }[];
      return { level, mode };
    } finally {
      await ds.destroy();
    }
  };

  it('runs in WAL mode with FULL commits by default (SQLITE_SYNCHRONOUS unset)', async () => {
    expect(await pragmas()).toEqual({ level: 2, mode: 'wal' });
  });

  it('keeps SQLITE_SYNCHRONOUS=normal once WAL mode is on', async () => {
    expect(await pragmas('normal')).toEqual({ level: 1, mode: 'wal' });
  });
});
