import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppConfig } from '../config/app-config';
import { Metrics } from './metrics';

/**
 * The management server: `GET /metrics` in the Prometheus text format, on METRICS_HOST:METRICS_PORT,
 * apart from the API (no authentication, no API routes, not behind the request limits). Starts with
 * the app, so a port that cannot be bound stops the start; closes with it.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server?: Server;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { port, host } = this.config.metrics!;
    const registry = this.metrics.registry;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res
          .writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
          .end('not found: the metrics are at GET /metrics\n');
        return;
      }
      registry.metrics().then(
        (text) =>
          res
            .writeHead(200, { 'Content-Type': registry.contentType })
            .end(req.method === 'HEAD' ? undefined : text),
        (err: unknown) => {
          this.logger.error(`collecting metrics failed: ${err instanceof Error ? err.message : String(err)}`);
          res
            .writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
            .end('collecting metrics failed\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log(`metrics on ${this.url()}`);
  }

  /** `http://host:port/metrics` of the bound server (the real port when started on port 0). */
  url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the metrics server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}/metrics`;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // A scraper's keep-alive connection must not hold the shutdown up.
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}
