/** One SMS carrying a one-time code. `to` is E.164. */
export interface SmsMessage {
  to: string;
  /** The rendered text (SMS_TEMPLATE). */
  body: string;
  /** The code alone, for providers that render their own text. */
  code: string;
  /** When the code stops working (epoch ms). */
  expiresAt: number;
}

/** The provider could not take the message (after its retries). Carries no number and no code. */
export class SmsDeliveryError extends Error {
  constructor(
    readonly provider: string,
    reason: string,
  ) {
    super(`SMS provider ${provider}: ${reason}`);
    this.name = 'SmsDeliveryError';
  }
}

/**
 * The SMS delivery port. Adapters: `log`, `webhook`, `twilio` (SMS_PROVIDER). `send` resolves once
 * the provider accepted the message and rejects with SmsDeliveryError otherwise.
 */
export abstract class SmsSender {
  abstract readonly name: string;
  abstract send(message: SmsMessage): Promise<void>;
}

/** Renders SMS_TEMPLATE: `{{code}}` and `{{minutes}}` (validity, rounded up). */
export function renderSmsText(template: string, code: string, ttlSeconds: number): string {
  const minutes = String(Math.max(1, Math.ceil(ttlSeconds / 60)));
  return template.replace(/\{\{\s*code\s*\}\}/g, code).replace(/\{\{\s*minutes\s*\}\}/g, minutes);
}
