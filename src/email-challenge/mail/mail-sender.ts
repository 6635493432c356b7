/** One step-up code email, before rendering. */
export interface ChallengeMail {
  /** Full recipient address: used for delivery only, never logged. */
  to: string;
  challengeId: string;
  code: string;
  operation: string;
  /** Epoch ms after which the code no longer works. */
  expiresAt: number;
  ttlSeconds: number;
}

/** Thrown by adapters when the mail could not be handed over; carries no address or code. */
export class MailDeliveryError extends Error {
  constructor(
    message: string,
    readonly detail: { errorCode?: string; responseCode?: number } = {},
  ) {
    super(message);
    this.name = 'MailDeliveryError';
  }
}

/** The port through which the service sends challenge codes. Adapters: `log`, `smtp` (MAIL_TRANSPORT). */
export abstract class MailSender {
  /** Resolves once the mail was accepted by the transport; rejects with MailDeliveryError otherwise. */
  abstract send(mail: ChallengeMail): Promise<void>;
}
