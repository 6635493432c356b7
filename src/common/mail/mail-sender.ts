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

/** One security notification, rendered (see the notifications module). */
export interface NoticeMail {
  /** Full recipient address: used for delivery only, never logged. */
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The same for every try of one notification, so a duplicate (see the worker) can be recognised. */
  messageId: string;
  /** What log lines may name: the notification kind and its outbox row. */
  ref: { kind: string; outboxId: number };
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

/**
 * How a send ended: `sent` (the transport accepted the mail) or `unconfirmed` (the whole mail was
 * transmitted, but the transport did not confirm it within the send deadline: most likely delivered).
 */
export type MailOutcome = 'sent' | 'unconfirmed';

/** The port through which the service sends challenge codes. Adapters: `log`, `smtp` (MAIL_TRANSPORT). */
export abstract class MailSender {
  /**
   * Resolves within MAIL_SEND_DEADLINE_MS with how the mail went out; rejects with MailDeliveryError
   * when it certainly did not (refused, or stopped before the whole mail was transmitted).
   */
  abstract send(mail: ChallengeMail): Promise<MailOutcome>;

  /** The same transport for a security notification; same contract as `send`. */
  abstract sendNotice(mail: NoticeMail): Promise<MailOutcome>;
}
