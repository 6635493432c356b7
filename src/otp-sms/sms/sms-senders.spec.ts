import { Logger } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, createServer as createTcpServer, Socket } from 'node:net';
import { postWithRetries } from './http-delivery';
import { LogSmsSender } from './log-sms-sender';
import { renderSmsText, SmsDeliveryError, SmsMessage } from './sms-sender';
import { TwilioSmsSender } from './twilio-sms-sender';
import { WebhookSmsSender } from './webhook-sms-sender';

interface Hit {
  req: IncomingMessage;
  body: string;
}

interface Served {
  url: string;
  hits: Hit[];
  server: Server;
  /** Connections accepted so far. */
  connections(): number;
  /** The most connections that were open at one time. */
  maxOpen(): number;
  /** Connections open now. */
  open(): number;
  close(): Promise<void>;
}

/** A local HTTP server answering with `handler` (status per request index). */
async function serve(
  handler: (i: number, res: ServerResponse, req: IncomingMessage) => void,
): Promise<Served> {
  const hits: Hit[] = [];
  let connections = 0;
  let open = 0;
  let maxOpen = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ req, body: Buffer.concat(chunks).toString('utf8') });
      handler(hits.length - 1, res, req);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    maxOpen = Math.max(maxOpen, ++open);
    socket.on('close', () => open--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    hits,
    server,
    connections: () => connections,
    maxOpen: () => maxOpen,
    open: () => open,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const MESSAGE: SmsMessage = {
  to: '+41791234567',
  body: '12345678 is your code',
  code: '12345678',
  expiresAt: Date.UTC(2030, 0, 1),
};
const noBackoff = () => 0;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds, for at most `ms`. */
async function eventually(check: () => boolean, ms = 2000): Promise<boolean> {
  for (const end = Date.now() + ms; !check() && Date.now() < end;) await pause(10);
  return check();
}

describe('renderSmsText', () => {
  it('fills code and minutes (rounded up)', () => {
    expect(renderSmsText('{{code}} valid {{minutes}} min; {{ code }}', '12345678', 90)).toBe(
      '12345678 valid 2 min; 12345678',
    );
  });
});

/** A send to a local provider, without pauses between attempts. */
const sendBase = {
  provider: 'test',
  headers: {},
  body: '{}',
  timeoutMs: 2000,
  deadlineMs: 10_000,
  backoffMs: noBackoff,
};

describe('postWithRetries', () => {
  const base = sendBase;

  it('retries 5xx and succeeds when the provider recovers', async () => {
    const s = await serve((i, res) => res.writeHead(i < 2 ? 503 : 204).end());
    try {
      await postWithRetries({ ...base, url: s.url, retries: 2 });
      expect(s.hits).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  it('gives up after the retries with an error naming only the status', async () => {
    const s = await serve((_i, res) => res.writeHead(500).end('secret details'));
    try {
      const err = await postWithRetries({ ...base, url: s.url + '/path?token=x', retries: 1 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SmsDeliveryError);
      expect((err as Error).message).toBe('SMS provider test: HTTP 500 (attempts: 2)');
      expect(s.hits).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  it('does not retry a 4xx answer', async () => {
    const s = await serve((_i, res) => res.writeHead(400).end());
    try {
      await expect(postWithRetries({ ...base, url: s.url, retries: 3 })).rejects.toThrow('HTTP 400');
      expect(s.hits).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('times out a hanging provider', async () => {
    const s = await serve(() => undefined); // never answers
    try {
      await expect(postWithRetries({ ...base, url: s.url, retries: 1, timeoutMs: 150 })).rejects.toThrow(
        'timeout after 150 ms',
      );
      expect(s.hits).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  it('ends a hanging provider at the overall deadline: no retry starts after it', async () => {
    const s = await serve(() => undefined); // never answers
    try {
      const err = await postWithRetries({
        ...base,
        url: s.url,
        retries: 2,
        timeoutMs: 5000,
        deadlineMs: 200,
      }).catch((e: unknown) => e);
      expect((err as Error).message).toBe('SMS provider test: send deadline of 200 ms passed (attempts: 1)');
      expect(s.hits).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('reports a network error when nothing listens', async () => {
    const s = await serve((_i, res) => res.end());
    await s.close();
    await expect(postWithRetries({ ...base, url: s.url, retries: 1 })).rejects.toThrow('network error');
  });

  it('does not follow a redirect: a 3xx answer is final', async () => {
    const s = await serve((_i, res) => res.writeHead(302, { Location: '/elsewhere?token=x' }).end());
    try {
      const err = await postWithRetries({ ...base, url: s.url, retries: 3 }).catch((e: unknown) => e);
      expect((err as Error).message).toBe('SMS provider test: HTTP 302 (attempts: 1)');
      expect(s.hits).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('sends the headers as given, with the Content-Length of the body in bytes', async () => {
    const s = await serve((_i, res) => res.writeHead(204).end());
    try {
      const body = '{"body":"Grüße – 12345678"}';
      await postWithRetries({ ...base, url: s.url, retries: 0, body, headers: { 'X-Custom': 'one' } });
      const req = s.hits[0].req;
      expect(req.method).toBe('POST');
      expect(req.headers['x-custom']).toBe('one');
      expect(req.headers['content-length']).toBe(String(Buffer.byteLength(body)));
      expect(s.hits[0].body).toBe(body);
    } finally {
      await s.close();
    }
  });

  it('takes a 2xx whose body never ends as success, once the attempt runs out of time', async () => {
    const s = await serve((_i, res) => res.writeHead(200).write('partial'));
    try {
      await postWithRetries({ ...base, url: s.url, retries: 2, timeoutMs: 150 });
      expect(s.hits).toHaveLength(1);
      // the unfinished answer's connection is closed, not pooled
      expect(await eventually(() => s.open() === 0)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('closes the connection of every attempt cut off by the timeout or the deadline', async () => {
    const s = await serve(() => undefined); // never answers
    try {
      await expect(postWithRetries({ ...base, url: s.url, retries: 1, timeoutMs: 100 })).rejects.toThrow(
        'timeout after 100 ms (attempts: 2)',
      );
      await expect(
        postWithRetries({ ...base, url: s.url, retries: 1, timeoutMs: 5000, deadlineMs: 150 }),
      ).rejects.toThrow('send deadline of 150 ms passed (attempts: 1)');
      expect(s.connections()).toBe(3);
      expect(await eventually(() => s.open() === 0)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('speaks TLS to an https URL', async () => {
    // a bare TCP server: it sees the TLS handshake's first byte (a handshake record) and hangs up
    const firstBytes: number[] = [];
    const tcp = createTcpServer((socket) =>
      socket.once('data', (d: Buffer) => {
        firstBytes.push(d[0]);
        socket.destroy();
      }),
    );
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    try {
      const url = `https://127.0.0.1:${(tcp.address() as AddressInfo).port}/sms`;
      await expect(postWithRetries({ ...base, url, retries: 0 })).rejects.toThrow(
        'SMS provider test: network error (attempts: 1)',
      );
      expect(firstBytes).toEqual([0x16]);
    } finally {
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  });

  it('fails a URL that is no http(s) URL as a network error', async () => {
    await expect(postWithRetries({ ...base, url: 'ftp://127.0.0.1/sms', retries: 1 })).rejects.toThrow(
      'SMS provider test: network error (attempts: 2)',
    );
  });
});

describe('postWithRetries over kept-alive connections', () => {
  const base = { ...sendBase, retries: 0 };

  it('sends one send after the other over a single connection', async () => {
    const s = await serve((_i, res) => res.writeHead(200).end('{"ok":true}'));
    try {
      const sender = new WebhookSmsSender({ url: s.url, timeoutMs: 2000, retries: 0, deadlineMs: 10_000 });
      for (let i = 0; i < 5; i++) await sender.send(MESSAGE);
      expect(s.hits).toHaveLength(5);
      expect(s.connections()).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('reads a large answer to its end, so that its connection is used again', async () => {
    const big = 'x'.repeat(256 * 1024);
    const s = await serve((_i, res) => res.writeHead(200).end(big));
    try {
      await postWithRetries({ ...base, url: s.url });
      await postWithRetries({ ...base, url: s.url });
      expect(s.connections()).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('keeps at most 64 connections to a provider open; concurrent sends beyond wait for one', async () => {
    const s = await serve((_i, res) => setTimeout(() => res.writeHead(200).end(), 20));
    try {
      await Promise.all(Array.from({ length: 100 }, () => postWithRetries({ ...base, url: s.url })));
      expect(s.hits).toHaveLength(100);
      expect(s.maxOpen()).toBe(64);
      // a second round finds the pool's connections and opens none
      await Promise.all(Array.from({ length: 20 }, () => postWithRetries({ ...base, url: s.url })));
      expect(s.connections()).toBe(64);
    } finally {
      await s.close();
    }
  });

  it('opens a new connection when the server closed the idle one between sends', async () => {
    const s = await serve((_i, res) => res.writeHead(200).end());
    s.server.keepAliveTimeout = 50;
    try {
      await postWithRetries({ ...base, url: s.url });
      expect(await eventually(() => s.open() === 0)).toBe(true);
      await postWithRetries({ ...base, url: s.url });
      expect(s.hits).toHaveLength(2);
      expect(s.connections()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('resends once on a new connection when a reused one is closed as the request arrives', async () => {
    // each connection answers its first request and is dropped at the next one, unanswered: as if the
    // server had closed it as idle just when the request was written
    const served = new WeakMap<object, number>();
    const s = await serve((_i, res, req) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n > 1) req.socket.destroy();
      else res.writeHead(200).end();
    });
    try {
      await postWithRetries({ ...base, url: s.url });
      await postWithRetries({ ...base, url: s.url }); // retries: 0, yet it gets through
      expect(s.hits).toHaveLength(3);
      expect(s.connections()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('does not resend a request whose new connection is dropped: that is a network error', async () => {
    const s = await serve((_i, _res, req) => req.socket.destroy());
    try {
      await expect(postWithRetries({ ...base, url: s.url })).rejects.toThrow(
        'SMS provider test: network error (attempts: 1)',
      );
      expect(s.hits).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
  it('resends only once: when the new connection is dropped too, the attempt is a network error', async () => {
    // the first request is answered; every later one is dropped, on whichever connection
    const s = await serve((i, res, req) => (i === 0 ? res.writeHead(200).end() : req.socket.destroy()));
    try {
      await postWithRetries({ ...base, url: s.url });
      await expect(postWithRetries({ ...base, url: s.url })).rejects.toThrow(
        'SMS provider test: network error (attempts: 1)',
      );
      expect(s.hits).toHaveLength(3);
      expect(s.connections()).toBe(2);
    } finally {
      await s.close();
    }
  });
});

describe('WebhookSmsSender', () => {
  it('posts {to, body, code, expiresAt} signed with X-Signature', async () => {
    const s = await serve((_i, res) => res.writeHead(200).end());
    try {
      await new WebhookSmsSender({
        url: s.url + '/hook',
        secret: 'a-very-secret-secret',
        timeoutMs: 2000,
        deadlineMs: 10_000,
        retries: 0,
      }).send(MESSAGE);
      const hit = s.hits[0];
      expect(hit.req.url).toBe('/hook');
      expect(hit.req.headers['content-type']).toBe('application/json');
      expect(JSON.parse(hit.body)).toEqual({
        to: MESSAGE.to,
        body: MESSAGE.body,
        code: MESSAGE.code,
        expiresAt: '2030-01-01T00:00:00.000Z',
      });
      const expected =
        'sha256=' + createHmac('sha256', 'a-very-secret-secret').update(hit.body).digest('hex');
      expect(hit.req.headers['x-signature']).toBe(expected);
    } finally {
      await s.close();
    }
  });

  it('sends no signature without a secret', async () => {
    const s = await serve((_i, res) => res.writeHead(202).end());
    try {
      await new WebhookSmsSender({ url: s.url, timeoutMs: 2000, retries: 0, deadlineMs: 10_000 }).send(
        MESSAGE,
      );
      expect(s.hits[0].req.headers['x-signature']).toBeUndefined();
    } finally {
      await s.close();
    }
  });
});

describe('TwilioSmsSender', () => {
  it('posts the Messages API form with basic auth', async () => {
    const s = await serve((_i, res) => res.writeHead(201).end('{}'));
    try {
      await new TwilioSmsSender({
        baseUrl: s.url + '/',
        accountSid: 'AC123',
        authToken: 'tok',
        from: '+15005550006',
        timeoutMs: 2000,
        deadlineMs: 10_000,
        retries: 0,
      }).send(MESSAGE);
      const hit = s.hits[0];
      expect(hit.req.method).toBe('POST');
      expect(hit.req.url).toBe('/2010-04-01/Accounts/AC123/Messages.json');
      expect(hit.req.headers.authorization).toBe('Basic ' + Buffer.from('AC123:tok').toString('base64'));
      expect(hit.req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      const form = new URLSearchParams(hit.body);
      expect([form.get('To'), form.get('From'), form.get('Body')]).toEqual([
        MESSAGE.to,
        '+15005550006',
        MESSAGE.body,
      ]);
    } finally {
      await s.close();
    }
  });
});

describe('LogSmsSender', () => {
  afterEach(() => jest.restoreAllMocks());

  it('logs the masked number and no code by default', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    await new LogSmsSender(false).send(MESSAGE);
    expect(log).toHaveBeenCalledWith('SMS to +41…67: code sent');
  });

  it('logs the code only when SMS_LOG_CODES is on', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    await new LogSmsSender(true).send(MESSAGE);
    expect(log).toHaveBeenCalledWith('SMS to +41…67: code 12345678');
  });
});
