/**
 * Micro-benchmark: the work metrics add to one `_check` request, in this process – the request timing
 * hooked on the HTTP server (route template lookup among every route of openapi.json, histogram
 * observation) and the verify outcome counted. A figure the noise of a shared machine does not hide,
 * next to the load test's metrics on/off runs. Run: npx ts-node --transpile-only bench/metrics-cost.bench.ts
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/common/config/app-config';
import { RouteRegistry, toRegExp } from '../src/common/errors/route-registry';
import { Metrics } from '../src/common/observability/metrics';
import { SendOutcomes } from '../src/common/observability/send-outcome';
import { VerifyOutcomes } from '../src/common/observability/verify-outcome';

export async function runMetricsCostBench(rounds = 200_000): Promise<number> {
  const { config } = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    MASTER_KEY: Buffer.alloc(32).toString('base64'),
  });
  // The registry's routes, as its start-up scan would find them: every operation of the API document.
  const doc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'openapi.json'), 'utf8')) as {
    paths: Record<string, object>;
  };
  const routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => {
      const template = p.replace(/\{(\w+)\}/g, ':$1');
      return {
        method: m.toUpperCase(),
        pattern: toRegExp(template.replace(/(:\w+):/g, '$1\\:')),
        family: 'zitadel',
        template,
      };
    }),
  );
  const registry = Object.assign(Object.create(RouteRegistry.prototype) as object, {
    routes,
  }) as unknown as RouteRegistry;
  const server = new EventEmitter();
  const outcomes = new VerifyOutcomes({ getControllers: () => [] } as never);
  const metrics = new Metrics(
    config,
    registry,
    { httpAdapter: { getHttpServer: () => server } } as never,
    outcomes,
    new SendOutcomes(),
    {} as never,
  );
  const request = (withMetrics: boolean) => {
    const req = { method: 'POST', url: '/v2/users/196359937164430340/totp/_check' };
    const res = Object.assign(new EventEmitter(), { statusCode: 200 });
    server.emit('request', req, res);
    res.emit('finish');
    outcomes.report({ factor: 'totp', result: 'success', lockoutStarted: false });
    return withMetrics;
  };
  const time = (withMetrics: boolean) => {
    for (let i = 0; i < 20_000; i++) request(withMetrics);
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) request(withMetrics);
    return ((performance.now() - t0) * 1000) / rounds;
  };
  const without = time(false);
  metrics.onApplicationBootstrap();
  const withMetrics = time(true);
  const cost = withMetrics - without;
  if (registry.templateOf('POST', '/v2/users/1/totp/_check') !== '/v2/users/:userId/totp/_check')
    throw new Error('route table not as the app builds it');
  console.log(
    `\nMetrics per _check request (in process, ${rounds} requests): ${cost.toFixed(2)} µs ` +
      `(request timing by route template + verify counter; ${without.toFixed(2)} µs of event plumbing without metrics)`,
  );
  await metrics.registry.metrics(); // the scrape works on what was recorded
  return cost;
}

if (require.main === module) {
  runMetricsCostBench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
