/**
 * npm run openapi:sync [-- --check]
 *
 * Builds the OpenAPI document exactly as the running service serves it (the real AppModule on a
 * throw-away SQLite database, never listening) and writes it to openapi.json at the repository root
 * (paths and component names sorted, everything else in declaration order). `--check` writes nothing and exits 1 when the committed file is out of date.
 * The document holds nothing that varies between runs (no dates, ports, hosts or random ids), so the
 * committed file only changes when the API does; test/openapi-drift.e2e-spec.ts enforces it.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppModule } from '../src/app.module';
import { loadConfig } from '../src/common/config/app-config';
import { buildOpenApiDocument, serialiseOpenApi } from '../src/common/openapi/openapi';

export const OPENAPI_FILE = path.resolve(__dirname, '..', 'openapi.json');

/** The serialised document of a fresh app. Reads no environment: the result is the same everywhere. */
export async function generateOpenApi(): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-openapi-'));
  try {
    const { config } = loadConfig({
      DATA_DIR: tmp,
      DATABASE_URL: `sqlite:${path.join(tmp, 'openapi.sqlite')}`,
      MASTER_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'silent',
      METRICS_PORT: '0',
    });
    const app = await NestFactory.create(AppModule.forRoot(config), {
      logger: false,
      bodyParser: false,
      abortOnError: false,
    });
    try {
      return serialiseOpenApi(buildOpenApiDocument(app));
    } finally {
      await app.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const text = await generateOpenApi();
  const current = fs.existsSync(OPENAPI_FILE) ? fs.readFileSync(OPENAPI_FILE, 'utf8') : '';
  const paths = Object.keys((JSON.parse(text) as { paths: object }).paths).length;
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error('openapi.json is out of date: run `npm run openapi:sync` and commit openapi.json');
      process.exit(1);
    }
    console.log(`openapi.json is up to date (${paths} paths)`);
    return;
  }
  if (current === text) {
    console.log(`openapi.json unchanged (${paths} paths)`);
    return;
  }
  fs.writeFileSync(OPENAPI_FILE, text);
  console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE) || OPENAPI_FILE} (${paths} paths)`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
