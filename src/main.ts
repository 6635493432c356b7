import './compile-cache';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { configureApp, createHttpAdapter, enableGracefulShutdown } from './bootstrap';
import { ConfigError, loadConfig } from './common/config/app-config';

/** Exit code for a configuration error (EX_CONFIG from sysexits.h). */
const EXIT_CONFIG = 78;

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw e;
  }
  const { config, warnings } = loaded;
  // abortOnError: false – a failing start (e.g. database unreachable) rejects here instead of process.abort().
  const app = await NestFactory.create(AppModule.forRoot(config), createHttpAdapter(config), {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  for (const w of warnings) logger.warn(w, 'Config');
  configureApp(app, config);
  enableGracefulShutdown(app, logger);
  await app.listen(config.port, config.host);
  // The bound port, not the configured one: PORT=0 picks a free port (the process tests read it here).
  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(
    `listening on http://${config.host}:${port} (database: ${config.database.type}, http: ${config.httpAdapter})`,
    'Bootstrap',
  );
}

main().catch((e: unknown) => {
  // A configuration the stored data refuses (e.g. a stored value needs a key that is not configured).
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  process.stderr.write(`start-up failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
