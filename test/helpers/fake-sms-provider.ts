import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ReceivedSms {
  path: string;
  headers: IncomingMessage['headers'];
  /** The raw request body, as received (for signature checks). */
  raw: string;
  /** To / body / code as the provider understood them (JSON webhook or Twilio form). */
  to: string;
  text: string;
  /** The 8-digit code, read from the webhook's `code` field or from the Twilio message text. */
  code: string;
  json?: Record<string, unknown>;
  form?: URLSearchParams;
}

/**
 * A real local HTTP server acting as SMS webhook receiver and as Twilio Messages API
 * (`POST /2010-04-01/Accounts/{sid}/Messages.json`). Records every request; `failWith` makes it
 * answer with an error status instead.
 */
export class FakeSmsProvider {
  readonly received: ReceivedSms[] = [];
  /** Answer every request with this status (e.g. 500) instead of accepting it. */
  failWith?: number;
  /** Requests answered with `failWith`. */
  failedRequests = 0;
  private server?: Server;
  private port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.failWith) {
          this.failedRequests++;
          res.writeHead(this.failWith, { 'Content-Type': 'application/json' }).end('{"error":"down"}');
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const isForm = String(req.headers['content-type'] ?? '').startsWith(
          'application/x-www-form-urlencoded',
        );
        if (isForm) {
          const form = new URLSearchParams(raw);
          const text = form.get('Body') ?? '';
          this.received.push({
            path: req.url ?? '',
            headers: req.headers,
            raw,
            to: form.get('To') ?? '',
            text,
            code: /\d{8}/.exec(text)?.[0] ?? '',
            form,
          });
          res
            .writeHead(201, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ sid: 'SM' + this.received.length, status: 'queued' }));
        } else {
          const json = JSON.parse(raw) as Record<string, unknown>;
          this.received.push({
            path: req.url ?? '',
            headers: req.headers,
            raw,
            to: String(json.to),
            text: String(json.body),
            code: String(json.code),
            json,
          });
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The last message to `to`, failing when there is none. */
  last(to?: string): ReceivedSms {
    const list = to ? this.received.filter((r) => r.to === to) : this.received;
    const m = list[list.length - 1];
    if (!m) throw new Error(`no SMS received${to ? ' for that number' : ''}`);
    return m;
  }

  /** Stops listening (the provider is "down"); `start(samePort)` brings it back. */
  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Restarts on the same port. */
  async restart(): Promise<void> {
    await this.start(this.port);
  }
}
