import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from '../src/common/config/app-config';
import { CodeHasher } from '../src/common/crypto/code-hasher';
import { formatRotation, rotateKeys } from '../src/common/crypto/key-rotation';
import { SecretBox } from '../src/common/crypto/secret-box';
import { buildDataSourceOptions } from '../src/common/database/data-source';
import { MIGRATIONS } from '../src/common/database/migrations';
import { ENTITIES } from '../src/entities';

/**
 * `npm run keys:rotate [-- --batch-size N] [-- --max-batches N]`: re-seals every value stored under an
 * older key id under MASTER_KEY / MASTER_KEY_ID, with the service's own configuration (environment).
 * Safe while the service runs; run it again after an interruption. Exit 0 when done, 1 when values
 * are left that cannot be opened or something failed, 78 for a configuration error.
 */
const EXIT_CONFIG = 78;

function option(argv: string[], name: string): number | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name} needs a positive whole number`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  let config;
  let batchSize;
  let maxBatches;
  try {
    config = loadConfig(process.env).config;
    batchSize = option(argv, '--batch-size');
    maxBatches = option(argv, '--max-batches');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return EXIT_CONFIG;
  }
  const ds = new DataSource(buildDataSourceOptions(config.database, ENTITIES, MIGRATIONS));
  await ds.initialize();
  try {
    if (await ds.showMigrations()) {
      process.stderr.write(
        'keys:rotate: the database has pending migrations; start the service (or npm run migration:run) first\n',
      );
      return 1;
    }
    const box = new SecretBox(config);
    process.stdout.write(`keys:rotate: re-sealing under key ${box.currentKeyId}\n`);
    const report = await rotateKeys(ds, box, new CodeHasher(config), { batchSize, maxBatches });
    process.stdout.write(`${formatRotation(report)}\n`);
    const remaining = report.reduce((n, r) => n + r.remaining, 0);
    const unreadable = report.reduce((n, r) => n + r.unreadable, 0);
    process.stdout.write(
      remaining === 0
        ? 'keys:rotate: done; every stored value is sealed under the current key (the old keys can leave MASTER_KEYS_OLD)\n'
        : `keys:rotate: ${remaining} value(s) still under an older key; run again\n`,
    );
    return unreadable > 0 ? 1 : 0;
  } finally {
    await ds.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`keys:rotate failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
