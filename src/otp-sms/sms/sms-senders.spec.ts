import { Logger } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { postWithRetries } from './http-delivery';
import { LogSmsSender } from './log-sms-sender';
import { renderSmsText, SmsDeliveryError, SmsMessage } from './sms-sender';
import { TwilioSmsSender } from './twilio-sms-sender';
import { WebhookSmsSender } from './webhook-sms-sender';

interface Hit {
  req: IncomingMessage;
  body: string;
}

/** A local HTTP server answering with `handler` (status per request index). */
async function serve(
  handler: (i: number, res: ServerResponse) => void,
): Promise<{ url: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ req, body: Buffer.concat(chunks).toString('utf8') });
      handler(hits.length - 1, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    hits,
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

describe('renderSmsText', () => {
  it('fills code and minutes (rounded up)', () => {
    expect(renderSmsText('{{code}} valid {{minutes}} min; {{ code }}', '12345678', 90)).toBe(
      '12345678 valid 2 min; 12345678',
    );
  });
});

describe('postWithRetries', () => {
  const base = {
    provider: 'test',
    headers: {},
    body: '{}',
    timeoutMs: 2000,
    deadlineMs: 10_000,
    backoffMs: noBackoff,
  };

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
