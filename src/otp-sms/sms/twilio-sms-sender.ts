import { postWithRetries } from './http-delivery';
import { SmsMessage, SmsSender } from './sms-sender';

export interface TwilioSettings {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  from: string;
  timeoutMs: number;
  retries: number;
  deadlineMs: number;
}

/** Twilio Messages API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded, basic auth. */
export class TwilioSmsSender extends SmsSender {
  readonly name = 'twilio';

  constructor(private readonly settings: TwilioSettings) {
    super();
  }

  async send(message: SmsMessage): Promise<void> {
    const s = this.settings;
    const url = `${s.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(s.accountSid)}/Messages.json`;
    const body = new URLSearchParams({ To: message.to, From: s.from, Body: message.body }).toString();
    await postWithRetries({
      provider: this.name,
      url,
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: 'Basic ' + Buffer.from(`${s.accountSid}:${s.authToken}`).toString('base64'),
      },
      body,
      timeoutMs: s.timeoutMs,
      retries: s.retries,
      deadlineMs: s.deadlineMs,
    });
  }
}
