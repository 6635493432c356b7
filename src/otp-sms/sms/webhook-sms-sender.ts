import { createHmac } from 'node:crypto';
import { postWithRetries } from './http-delivery';
import { SmsMessage, SmsSender } from './sms-sender';

export interface WebhookSettings {
  url: string;
  secret?: string;
  timeoutMs: number;
  retries: number;
  deadlineMs: number;
}

/** `X-Signature` value: `sha256=<hex HMAC-SHA256 of the raw body>`. */
export function webhookSignature(secret: string, rawBody: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex');
}

/**
 * POSTs `{to, body, code, expiresAt}` as JSON to SMS_WEBHOOK_URL; signs the raw body with
 * SMS_WEBHOOK_SECRET (header X-Signature) when one is set. Any 2xx means accepted.
 */
export class WebhookSmsSender extends SmsSender {
  readonly name = 'webhook';

  constructor(private readonly settings: WebhookSettings) {
    super();
  }

  async send(message: SmsMessage): Promise<void> {
    const body = JSON.stringify({
      to: message.to,
      body: message.body,
      code: message.code,
      expiresAt: new Date(message.expiresAt).toISOString(),
    });
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.settings.secret) headers['X-Signature'] = webhookSignature(this.settings.secret, body);
    await postWithRetries({
      provider: this.name,
      url: this.settings.url,
      headers,
      body,
      timeoutMs: this.settings.timeoutMs,
      retries: this.settings.retries,
      deadlineMs: this.settings.deadlineMs,
    });
  }
}
