import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppConfig } from '../common/config/app-config';
import { ensurePrivateDir } from '../common/files/private-files';
import { IdentityService } from './identity.service';

/**
 * First start with an empty database: creates the default organisation and an `admin` machine user
 * holding IAM_OWNER, and writes its personal access token to BOOTSTRAP_ADMIN_PAT_PATH (mode 0600; a
 * folder created for it is 0700).
 * Database rows and file are written together: the file is in place before the transaction commits,
 * and removed again if the commit fails. The token is announced in the log by path, never printed.
 * Later starts (any organisation exists) do nothing.
 */
@Injectable()
export class BootstrapAdminService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Bootstrap');

  constructor(
    private readonly identity: IdentityService,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const file = this.config.auth.bootstrapPatPath;
    let written = false;
    try {
      const created = await this.identity.bootstrap((token) => {
        writeSecretFile(file, token + '\n');
        written = true;
      });
      if (created)
        this.logger.warn(
          `created the default organisation and the admin user; its access token is in ${file}`,
        );
    } catch (e) {
      if (written) fs.rmSync(file, { force: true });
      throw e;
    }
  }
}

/**
 * Writes `content` to `file` with mode 0600 from the first byte on: a fresh temporary file created
 * exclusively with that mode, then renamed over the target (atomic; an older file is replaced whole).
 */
export function writeSecretFile(file: string, content: string): void {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.chmodSync(tmp, 0o600); // the umask cannot widen 0600, but be explicit
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
