import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppConfig } from '../common/config/app-config';
import { BootstrapAdminService, writeSecretFile } from './bootstrap-admin.service';
import { IdentityService } from './identity.service';

describe('BootstrapAdminService', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-bootstrap-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const service = (file: string, bootstrap: (persist: (token: string) => void) => Promise<boolean>) =>
    new BootstrapAdminService(
      { bootstrap } as unknown as IdentityService,
      { auth: { bootstrapPatPath: file } } as AppConfig,
    );

  it('writes the token to a 0600 file, replacing a wider older file whole', async () => {
    const file = path.join(dir, 'sub', 'admin.pat');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, 'old', { mode: 0o644 });
    await service(file, async (persist) => (persist('mfa_token'), true)).onApplicationBootstrap();
    expect(fs.readFileSync(file, 'utf8')).toBe('mfa_token\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['admin.pat']);
  });

  it('removes the file again when the transaction fails after writing it', async () => {
    const file = path.join(dir, 'admin.pat');
    const failing = service(file, async (persist) => {
      persist('mfa_token');
      throw new Error('commit failed');
    });
    await expect(failing.onApplicationBootstrap()).rejects.toThrow('commit failed');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('fails the start (so nothing is committed) when the file cannot be written', async () => {
    const blocker = path.join(dir, 'blocker');
    fs.writeFileSync(blocker, '');
    let committed = false;
    const s = service(path.join(blocker, 'admin.pat'), async (persist) => {
      persist('mfa_token');
      committed = true;
      return true;
    });
    await expect(s.onApplicationBootstrap()).rejects.toThrow();
    expect(committed).toBe(false);
  });

  it('does nothing when the database is already bootstrapped', async () => {
    const file = path.join(dir, 'admin.pat');
    await service(file, async () => false).onApplicationBootstrap();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('writeSecretFile never leaves its temporary file behind', () => {
    const file = path.join(dir, 'x');
    writeSecretFile(file, 'a');
    writeSecretFile(file, 'b');
    expect(fs.readdirSync(dir)).toEqual(['x']);
    expect(fs.readFileSync(file, 'utf8')).toBe('b');
  });
});
