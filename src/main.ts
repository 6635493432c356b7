import './compile-cache';
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './common/config/app-config';
import { startTracing } from './tracing';

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
  // Tracing patches the HTTP server, the framework and the PostgreSQL driver as they are loaded: it
  // starts before the application's modules are (they are required here, not imported above).
  startTracing(config);
  const { NestFactory } = await import('@nestjs/core');
  const { Logger } = await import('nestjs-pino');
  const { AppModule } = await import('./app.module');
  const { configureApp, createHttpAdapter, enableGracefulShutdown } = await import('./bootstrap');
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
