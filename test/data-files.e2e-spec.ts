import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestApp, E2E_DB, TestApp } from './helpers/test-app';

/** Permission bits of a file or folder, as octal text ('600'). */
const mode = (p: string): string => (fs.statSync(p).mode & 0o777).toString(8);

/** Every entry of `dir` with its mode. */
const modes = (dir: string): Record<string, string> =>
  Object.fromEntries(fs.readdirSync(dir).map((f) => [f, mode(path.join(dir, f))]));

describe(`files the service keeps on disk (${E2E_DB})`, () => {
  let root: string;
  let app: TestApp | undefined;
  let umask: number;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-files-'));
    // The usual umask, which leaves new files readable by everyone unless the service says otherwise.
    umask = process.umask(0o022);
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    process.umask(umask);
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** A write, so the database's WAL holds something. */
  async function writeSomething(t: TestApp, name: string): Promise<void> {
    await t.http
      .post('/v2/organizations')
      .set('Authorization', `Bearer ${t.adminToken}`)
      .send({ name })
      .expect(200);
  }

  it('creates the data folder (and missing parents) 0700 and every file in it 0600', async () => {
    const dataDir = path.join(root, 'var', 'mfa');
    // On SQLite the defaults: the database and a generated master key in DATA_DIR (empty values count as unset).
    app = await createTestApp({
      env:
        E2E_DB === 'sqlite' ? { DATA_DIR: dataDir, DATABASE_URL: '', MASTER_KEY: '' } : { DATA_DIR: dataDir },
    });
    await writeSomething(app, 'Files Org');

    expect(mode(path.join(root, 'var'))).toBe('700');
    expect(mode(dataDir)).toBe('700');
    expect(modes(dataDir)).toEqual(
      E2E_DB === 'sqlite'
        ? {
            'admin.pat': '600',
            'master.key': '600',
            'mfa.sqlite': '600',
            'mfa.sqlite-shm': '600',
            'mfa.sqlite-wal': '600',
          }
        : { 'admin.pat': '600' },
    );
  });

  it('narrows an existing SQLite database, its WAL and the master key to 0600 at start; an existing folder keeps its mode', async () => {
    const dataDir = path.join(root, 'data');
    fs.mkdirSync(dataDir, { mode: 0o755 });
    const first = await createTestApp({ env: { DATA_DIR: dataDir, DATABASE_URL: '', MASTER_KEY: '' } });
    try {
      await writeSomething(first, 'Before');
    } finally {
      await first.close();
    }
    // As an earlier version left them.
    for (const f of fs.readdirSync(dataDir)) fs.chmodSync(path.join(dataDir, f), 0o644);
    fs.writeFileSync(path.join(dataDir, 'mfa.sqlite-wal'), '', { mode: 0o644 });

    app = await createTestApp({ env: { DATA_DIR: dataDir, DATABASE_URL: '', MASTER_KEY: '' } });
    await writeSomething(app, 'After');
    expect(mode(dataDir)).toBe('755');
    const files = modes(dataDir);
    for (const f of ['master.key', 'mfa.sqlite', 'mfa.sqlite-wal', 'mfa.sqlite-shm'])
      expect([f, files[f]]).toEqual([f, '600']);
  });
});
