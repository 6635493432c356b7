import { Injectable } from '@nestjs/common';

/** How one SMS or mail send ended (`unconfirmed`: mail transmitted, no answer within the deadline). */
export interface SendOutcome {
  channel: 'sms' | 'mail';
  /** The configured provider or transport (`log`, `webhook`, `twilio`, `smtp`): never a recipient. */
  provider: string;
  result: 'sent' | 'unconfirmed' | 'failed';
}

/** Everything that wants to know how sends went (metrics) subscribes here; the senders report. */
@Injectable()
export class SendOutcomes {
  private readonly observers: ((outcome: SendOutcome) => void)[] = [];

  observe(observer: (outcome: SendOutcome) => void): void {
    this.observers.push(observer);
  }

  report(outcome: SendOutcome): void {
    for (const observer of this.observers) observer(outcome);
  }

  /** Runs `send` and reports how it ended: its own result when it resolves, `failed` when it rejects. */
  async track<T extends SendOutcome['result'] | void>(
    channel: SendOutcome['channel'],
    provider: string,
    send: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await send();
    } catch (err) {
      this.report({ channel, provider, result: 'failed' });
      throw err;
    }
    this.report({ channel, provider, result: result ?? 'sent' });
    return result;
  }
}
