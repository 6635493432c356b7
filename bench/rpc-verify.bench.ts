/**
 * The cost of one TOTP verify through each front door: REST (JSON over HTTP/1.1), Connect and
 * gRPC-Web (binary over HTTP/1.1, main port) and gRPC (HTTP/2, GRPC_PORT) – the same route behind
 * all four. The built service runs as a process (SQLite, the first of BENCH_ADAPTERS, metrics off);
 * per protocol one user repeats register → verify → remove, one call at a time, and only the verify
 * is timed (client-side latency; the clients reuse their connection). Prints p50, p99 and mean per
 * protocol. Nothing here asserts a time; on a shared machine the figures are noisy.
 * Env: BENCH_RPC_ROUNDS (verifies per protocol, default 150; 0 skips).
 * Run alone: npx ts-node --transpile-only bench/rpc-verify.bench.ts
 */
import { createClient, Interceptor, Transport } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { userV2 } from '../src/rpc/zitadel-proto';
import { decodeSecret, hotp, timeStep } from '../src/totp/totp-algorithm';
import { ADAPTERS, freePort, NODE_FLAGS, stop, waitReady } from './totp-check.bench';

const ROOT = path.resolve(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_RPC_ROUNDS ?? 150);

/** One protocol's register / verify / remove on a user. */
interface Door {
  name: string;
  register(userId: string): Promise<string>;
  verify(userId: string, code: string): Promise<void>;
  remove(userId: string): Promise<void>;
}

function restDoor(baseUrl: string, token: string): Door {
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(baseUrl + p, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    name: 'REST (JSON, HTTP/1.1)',
    register: async (userId) => (await call('POST', `/v2/users/${userId}/totp`, {})).secret as string,
    verify: async (userId, code) => void (await call('POST', `/v2/users/${userId}/totp/verify`, { code })),
    remove: async (userId) => void (await call('DELETE', `/v2/users/${userId}/totp`)),
  };
}

function rpcDoor(name: string, transport: Transport): Door {
  const users = createClient(userV2.UserService, transport);
  return {
    name,
    register: async (userId) => (await users.registerTOTP({ userId })).secret,
    verify: async (userId, code) => void (await users.verifyTOTPRegistration({ userId, code })),
    remove: async (userId) => void (await users.removeTOTP({ userId })),
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export async function runRpcVerifyBench(): Promise<void> {
  if (!(ROUNDS >= 1)) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-stale'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const adapter = ADAPTERS[0];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-rpc-'));
  const [port, grpcPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [...NODE_FLAGS, path.join('dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite:${path.join(dir, 'mfa.sqlite')}`,
      PORT: String(port),
      GRPC_PORT: String(grpcPort),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      MASTER_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      HTTP_ADAPTER: adapter,
      METRICS_PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const grpcUrl = `http://127.0.0.1:${grpcPort}`;
  try {
    await waitReady(`${baseUrl}/healthz`, child);
    const token = fs.readFileSync(path.join(dir, 'admin.pat'), 'utf8').trim();
    const rest = restDoor(baseUrl, token);
    const bearer: Interceptor[] = [
      (next) => (req) => {
        req.header.set('authorization', `Bearer ${token}`);
        return next(req);
      },
    ];
    const doors: Door[] = [
      rest,
      rpcDoor(
        'Connect (binary, HTTP/1.1)',
        createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true, interceptors: bearer }),
      ),
      rpcDoor(
        'gRPC-Web (HTTP/1.1)',
        createGrpcWebTransport({ baseUrl, httpVersion: '1.1', interceptors: bearer }),
      ),
      rpcDoor('gRPC (HTTP/2, GRPC_PORT)', createGrpcTransport({ baseUrl: grpcUrl, interceptors: bearer })),
    ];
    const org = (await (
      await fetch(`${baseUrl}/v2/organizations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `bench-${randomBytes(3).toString('hex')}` }),
      })
    ).json()) as { organizationId: string };
    console.log(
      `\nOne TOTP verify per front door (SQLite, ${adapter}, ${ROUNDS} sequential verifies each after 20 warm-up rounds, ` +
        `client-side latency, load average ${os.loadavg()[0].toFixed(1)}; shared machine, noisy):`,
    );
    for (const door of doors) {
      const user = (await (
        await fetch(`${baseUrl}/v2/users/human`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            organization: { orgId: org.organizationId },
            username: `bench-rpc-${randomBytes(3).toString('hex')}`,
            profile: { givenName: 'Bench', familyName: 'User' },
            email: { email: 'bench@example.com', isVerified: true },
          }),
        })
      ).json()) as { userId: string };
      const times: number[] = [];
      for (let i = 0; i < ROUNDS + 20; i++) {
        const secret = await door.register(user.userId);
        const code = hotp(decodeSecret(secret), timeStep(Date.now()));
        const t0 = performance.now();
        await door.verify(user.userId, code);
        if (i >= 20) times.push(performance.now() - t0);
        await door.remove(user.userId);
      }
      times.sort((a, b) => a - b);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      console.log(
        `  ${door.name.padEnd(28)} p50 ${percentile(times, 50).toFixed(2)} ms  p99 ${percentile(times, 99).toFixed(2)} ms  mean ${mean.toFixed(2)} ms`,
      );
    }
  } finally {
    await stop(child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runRpcVerifyBench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
