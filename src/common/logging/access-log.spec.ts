import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { storage } from 'nestjs-pino/storage';
import { AppConfig } from '../config/app-config';
import { AccessLog, isTracked } from './access-log';

interface Line {
  level: number;
  msg: string;
  requestId?: string;
  req?: unknown;
  res?: unknown;
  err?: { message: string };
  responseTime?: number;
  [key: string]: unknown;
}

/** A node HTTP server whose every request goes through AccessLog.track, then through `handle`. */
async function serve(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const stream = new PassThrough();
  const lines: Line[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffered.slice(0, nl)) as Line);
      buffered = buffered.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const log = new AccessLog({ logLevel: 'info', logStream: stream } as unknown as AppConfig);
  const server = http.createServer((req, res) => {
    (req as { id?: string }).id = String(req.headers['x-request-id']);
    log.track(req, res, () => handle(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** The lines so far, once there are at least `n`. */
  const linesWhen = async (n: number) => {
    while (lines.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    return lines;
  };
  return { url, lines, linesWhen, close: () => new Promise((resolve) => server.close(resolve)) };
}

const call = (url: string, path: string, requestId: string) =>
  fetch(url + path, { method: 'POST', headers: { 'x-request-id': requestId }, body: 'secret-body-123' });

describe('AccessLog', () => {
  it('writes one access line per request with its request id, method, path, status and time – no query or body', async () => {
    const s = await serve((req, res) => {
      expect(isTracked(req)).toBe(true);
      res.statusCode = 201;
      res.end('{}');
    });
    try {
      const res = await call(s.url, '/v2/users/1/totp/_check?code=654321', 'req-00000001');
      expect(res.status).toBe(201);
      const [line] = await s.linesWhen(1);
      expect(line).toMatchObject({
        level: 30,
        requestId: 'req-00000001',
        req: { method: 'POST', path: '/v2/users/1/totp/_check' },
        res: { statusCode: 201 },
        msg: 'request completed',
      });
      expect(Object.keys(line).slice(-5)).toEqual(['requestId', 'req', 'res', 'responseTime', 'msg']);
      expect(typeof line.responseTime).toBe('number');
      expect(JSON.stringify(s.lines)).not.toMatch(/654321|secret-body/);
    } finally {
      await s.close();
    }
  });

  it('binds every line written while the request runs to its request id, and redacts codes and tokens', async () => {
    const s = await serve((_req, res) => {
      setImmediate(() => {
        storage.getStore()!.logger.info({ detail: { code: '123456', token: 't0k3n' }, kept: 1 }, 'inside');
        res.end();
      });
    });
    try {
      await call(s.url, '/a', 'req-00000002');
      const lines = await s.linesWhen(2);
      expect(lines.map((l) => [l.msg, l.requestId])).toEqual([
        ['inside', 'req-00000002'],
        ['request completed', 'req-00000002'],
      ]);
      expect(lines[0].detail).toEqual({});
      expect(lines[0].kept).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('says "request errored" for a 5xx, and logs no probe', async () => {
    const s = await serve((req, res) => {
      res.statusCode = req.url === '/healthz' || req.url === '/readyz' ? 200 : 503;
      res.end();
    });
    try {
      await call(s.url, '/healthz', 'req-00000003');
      await call(s.url, '/readyz', 'req-00000004');
      await call(s.url, '/b', 'req-00000005');
      const lines = await s.linesWhen(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        requestId: 'req-00000005',
        res: { statusCode: 503 },
        err: { message: 'failed with status code 503' },
        msg: 'request errored',
      });
    } finally {
      await s.close();
    }
  });

  it('logs a request whose client went away before the answer once', async () => {
    const arrived: http.ServerResponse[] = [];
    const s = await serve((_req, res) => arrived.push(res));
    try {
      const gone = new AbortController();
      const aborted = fetch(s.url + '/slow', {
        method: 'POST',
        headers: { 'x-request-id': 'req-00000007' },
        signal: gone.signal,
      }).catch(() => 'aborted');
      while (arrived.length === 0) await new Promise((resolve) => setImmediate(resolve));
      gone.abort();
      expect(await aborted).toBe('aborted');
      const [line] = await s.linesWhen(1);
      expect(line).toMatchObject({ requestId: 'req-00000007', msg: 'request completed' });
      // answered after all: still the one line
      arrived[0].end();
      const after = call(s.url, '/after', 'req-00000008');
      while (arrived.length < 2) await new Promise((resolve) => setImmediate(resolve));
      arrived[1].end();
      expect((await after).status).toBe(200);
      await s.linesWhen(2);
      expect(s.lines.map((l) => l.requestId)).toEqual(['req-00000007', 'req-00000008']);
    } finally {
      await s.close();
    }
  });
});
