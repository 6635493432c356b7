/**
 * What OpenTelemetry tracing costs on `POST /v2/users/{userId}/totp/_check`. Tracing patches modules as
 * they are loaded, so it is measured on the built service as a process (`dist/src/main.js`, with the Node
 * flags of `npm start`): started with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP/HTTP receiver
 * run here (it answers 200 to every export and only counts them), and without it, in alternating off/on
 * pairs. SQLite, the first of BENCH_ADAPTERS, metrics off (METRICS_PORT=0) on both sides, the SDK's
 * default batching and sampling (always on). Each run is warmed up for 1 s, then loaded by autocannon
 * (50 connections) with fresh codes; prints req/s and server CPU per request for on and off and the
 * difference of the means. Nothing here asserts a time.
 * Env: BENCH_TRACING_ROUNDS (off/on pairs, default 1; 0 skips), BENCH_TRACING_SECONDS (per run, default 4),
 * BENCH_TRACING_USERS (cloned users per run, default 6000), BENCH_LOG_LEVEL.
 * Run alone: npx ts-node --transpile-only bench/tracing-cost.bench.ts
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ADAPTERS,
  cloneUsers,
  CodeSource,
  enrol,
  freePort,
  line,
  load,
  LoadResult,
  NODE_FLAGS,
  stop,
  waitReady,
} from './totp-check.bench';

const ROOT = path.resolve(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_TRACING_ROUNDS ?? 1);
const SECONDS = Number(process.env.BENCH_TRACING_SECONDS ?? 4);
const USERS = Number(process.env.BENCH_TRACING_USERS ?? 6000);

/** A local OTLP/HTTP trace receiver that accepts every export (as test/helpers/otlp-receiver.ts, without decoding). */
async function startSink(): Promise<{ url: string; exports: () => number; close: () => Promise<void> }> {
  let exports = 0;
  const server = http.createServer((req, res) => {
    req.resume().on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exports: () => exports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function runTracingCostBench(): Promise<void> {
  if (!(ROUNDS >= 1)) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-stale'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const adapter = ADAPTERS[0];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-tracing-'));
  const dbEnv = { DATABASE_URL: `sqlite:${path.join(dir, 'mfa.sqlite')}` };
  const masterKey = randomBytes(32).toString('base64');
  const sink = await startSink();
  const startApp = async (tracing: boolean): Promise<{ child: ChildProcess; url: string }> => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...dbEnv,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      MASTER_KEY: masterKey,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      HTTP_ADAPTER: adapter,
      METRICS_PORT: '0',
      GRPC_PORT: '0',
    };
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    if (tracing) env.OTEL_EXPORTER_OTLP_ENDPOINT = sink.url;
    const child = spawn(process.execPath, [...NODE_FLAGS, path.join('dist', 'src', 'main.js')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/healthz`, child);
    return { child, url };
  };

  console.log(
    `\nTracing on vs off, _check (SQLite, ${adapter}, metrics off, ${ROUNDS} off/on pair(s) of ${SECONDS} s after 1 s warm-up, ` +
      `load average ${os.loadavg()[0].toFixed(1)}):`,
  );
  let app = await startApp(false);
  try {
    const token = fs.readFileSync(path.join(dir, 'admin.pat'), 'utf8').trim();
    const orgRes = await fetch(`${app.url}/v2/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench-${randomBytes(3).toString('hex')}` }),
    });
    const { organizationId } = (await orgRes.json()) as { organizationId: string };
    const { users: enrolled } = await enrol(app.url, token, organizationId, 16);
    const users = await cloneUsers(dbEnv, masterKey, enrolled[0].userId, 2 * ROUNDS * USERS);
    await stop(app.child); // every measured run gets a fresh process

    const runs: { tracing: boolean; result: LoadResult; exports: number }[] = [];
    for (let i = 0; i < 2 * ROUNDS; i++) {
      const tracing = i % 2 === 1;
      app = await startApp(tracing);
      const source = new CodeSource(users.slice(i * USERS, (i + 1) * USERS));
      await load(app.url, app.child.pid!, source, token, 1);
      const exports0 = sink.exports();
      const result = await load(app.url, app.child.pid!, source, token, SECONDS);
      await stop(app.child);
      runs.push({ tracing, result, exports: sink.exports() - exports0 });
      console.log(
        line(`tracing ${tracing ? 'on ' : 'off'} #${Math.floor(i / 2) + 1}`, result) +
          (tracing ? `  ${runs[i].exports} OTLP exports` : ''),
      );
      if (source.exhausted > 0)
        console.log(`  note: ${source.exhausted} requests had no fresh code left; raise BENCH_TRACING_USERS`);
    }
    const mean = (tracing: boolean, key: 'rps' | 'cpuUs') => {
      const xs = runs.filter((r) => r.tracing === tracing).map((r) => r.result[key]);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const [offCpu, onCpu, offRps, onRps] = [
      mean(false, 'cpuUs'),
      mean(true, 'cpuUs'),
      mean(false, 'rps'),
      mean(true, 'rps'),
    ];
    console.log(
      `  tracing on vs off (means): ${onCpu.toFixed(0)} vs ${offCpu.toFixed(0)} µs server CPU per request ` +
        `(${onCpu - offCpu >= 0 ? '+' : ''}${(onCpu - offCpu).toFixed(0)} µs, ${(((onCpu - offCpu) / offCpu) * 100).toFixed(0)} %), ` +
        `${onRps.toFixed(0)} vs ${offRps.toFixed(0)} req/s (${(((onRps - offRps) / offRps) * 100).toFixed(1)} %)`,
    );
  } finally {
    await stop(app.child);
    await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runTracingCostBench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
