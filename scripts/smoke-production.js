#!/usr/bin/env node
'use strict';
/**
 * The production install, tested: build, copy the built tree with its node_modules to a temporary folder,
 * remove the dev dependencies there (`npm prune --omit=dev`), and start `node dist/src/main.js` on
 * PostgreSQL in a fresh schema. Then: /readyz answers 200; the bootstrap admin (its PAT from
 * DATA_DIR/admin.pat) creates an organisation and a user with a PAT, the user registers a TOTP and
 * verifies it with a code computed here; /metrics on the management port counts that verify; SIGTERM ends
 * the process with exit code 0. The schema is dropped.
 *
 *   node scripts/smoke-production.js        (DATABASE_URL or TEST_DATABASE_URL, default the local test database)
 *
 * Plain JavaScript using Node's own modules and, inside the pruned copy, `pg` (a production dependency):
 * nothing here may need a dev dependency.
 */
const { execFileSync, spawn } = require('node:child_process');
const { createHmac, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const START_TIMEOUT_MS = 60_000;

const step = (text) => process.stdout.write(`smoke: ${text}\n`);
function fail(text) {
  throw new Error(text);
}

/** RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of a base32 secret. */
function totp(secretBase32, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretBase32.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) fail('the TOTP secret is not base32');
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** A TCP port free right now on the loopback interface. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function main() {
  const started = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-smoke-'));
  const app = path.join(work, 'app');
  const dataDir = path.join(work, 'data');
  const schema = `smoke_${randomBytes(4).toString('hex')}`;
  let server;
  try {
    step('build');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });

    step('copy the built tree and remove the dev dependencies');
    fs.mkdirSync(app);
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, f), path.join(app, f));
    fs.cpSync(path.join(ROOT, 'dist'), path.join(app, 'dist'), { recursive: true });
    // A copy of the installed modules, not a fresh `npm ci`: better-sqlite3 would compile again for minutes.
    execFileSync('cp', ['-a', path.join(ROOT, 'node_modules'), path.join(app, 'node_modules')]);
    execFileSync('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund'], { cwd: app, stdio: 'inherit' });
    for (const dev of ['jest', 'eslint', '@nestjs/testing', 'supertest']) {
      if (fs.existsSync(path.join(app, 'node_modules', dev))) fail(`dev dependency ${dev} is still installed`);
    }

    const metricsPort = await freePort();
    step(`start node dist/src/main.js on PostgreSQL (schema ${schema}), metrics on port ${metricsPort}`);
    server = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: app,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        DATA_DIR: dataDir,
        DATABASE_URL: PG_URL,
        DATABASE_SCHEMA: schema,
        MASTER_KEY: randomBytes(32).toString('base64'),
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        METRICS_PORT: String(metricsPort),
        METRICS_HOST: '127.0.0.1',
        GRPC_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    server.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    server.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening on" within ${START_TIMEOUT_MS} ms:\n${stdout}${stderr}`)), START_TIMEOUT_MS);
      const look = () => {
        const m = /listening on http:\/\/[^:]+:(\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      server.stdout.on('data', look);
      void exited.then(({ code }) => reject(new Error(`the server ended (code ${code}) before listening:\n${stdout}${stderr}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const call = async (method, urlPath, token, body) => {
      const res = await fetch(base + urlPath, {
        method,
        headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (res.status !== 200) fail(`${method} ${urlPath}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : {};
    };

    step('GET /readyz');
    const ready = await call('GET', '/readyz');
    if (ready.status !== 'ok') fail(`/readyz: ${JSON.stringify(ready)}`);

    step('TOTP: organisation, user, PAT, register, verify');
    const admin = fs.readFileSync(path.join(dataDir, 'admin.pat'), 'utf8').trim();
    const { organizationId } = await call('POST', '/v2/organizations', admin, { name: `smoke-${schema}` });
    const { userId } = await call('POST', '/v2/users/human', admin, {
      organization: { orgId: organizationId },
      username: 'smoke',
      profile: { givenName: 'Smoke', familyName: 'Test' },
      email: { email: 'smoke@example.com', isVerified: true },
    });
    const { token } = await call('POST', `/v2/users/${userId}/pats`, admin, {});
    const { secret } = await call('POST', `/v2/users/${userId}/totp`, token, {});
    await call('POST', `/v2/users/${userId}/totp/verify`, token, { code: totp(secret) });

    step('Connect (JSON) on the main port: GetUserByID of the User Service v2 (the @zitadel/proto descriptors load)');
    const rpc = await fetch(`${base}/zitadel.user.v2.UserService/GetUserByID`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    const rpcBody = await rpc.text();
    if (rpc.status !== 200 || JSON.parse(rpcBody).user?.userId !== userId) fail(`GetUserByID: ${rpc.status} ${rpcBody}`);

    step('GET /metrics on the management port: the verify counted');
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const verified = metrics
      .split('\n')
      .find((l) => l.startsWith('mfa_verify_attempts_total{') && l.includes('factor="totp"') && l.includes('result="success"'));
    if (!verified || !/ 1$/.test(verified)) fail(`/metrics has no successful TOTP verify: ${verified ?? 'no such line'}`);

    step('SIGTERM');
    server.kill('SIGTERM');
    const { code, signal } = await exited;
    server = undefined;
    if (code !== 0) fail(`exit code ${code} (signal ${signal}) after SIGTERM:\n${stderr}`);
    step(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    if (server) server.kill('SIGKILL');
    try {
      const { Client } = require(path.join(app, 'node_modules', 'pg'));
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    } catch (e) {
      process.stderr.write(`smoke: could not drop schema ${schema}: ${e.message}\n`);
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`smoke: FAILED: ${e.message}\n`);
  process.exit(1);
});
