import { Provider } from '@nestjs/common';
import { AppConfig } from '../../common/config/app-config';
import { SendOutcomes } from '../../common/observability/send-outcome';
import { LogSmsSender } from './log-sms-sender';
import { SmsMessage, SmsSender } from './sms-sender';
import { TwilioSmsSender } from './twilio-sms-sender';
import { WebhookSmsSender } from './webhook-sms-sender';

/** Picks the adapter named by SMS_PROVIDER (config validation guarantees its settings exist). */
export function createSmsSender(config: AppConfig): SmsSender {
  const sms = config.sms;
  const delivery = { timeoutMs: sms.timeoutMs, retries: sms.retries, deadlineMs: sms.sendDeadlineMs };
  switch (sms.provider) {
    case 'log':
      return new LogSmsSender(sms.logCodes);
    case 'webhook':
      return new WebhookSmsSender({ ...sms.webhook!, ...delivery });
    case 'twilio':
      return new TwilioSmsSender({ ...sms.twilio!, ...delivery });
  }
}

/** The configured adapter, each send reported (provider and result only) to SendOutcomes. */
class ReportingSmsSender extends SmsSender {
  readonly name: string;

  constructor(
    private readonly inner: SmsSender,
    private readonly outcomes: SendOutcomes,
    private readonly provider: string,
  ) {
    super();
    this.name = inner.name;
  }

  send(message: SmsMessage): Promise<void> {
    return this.outcomes.track('sms', this.provider, () => this.inner.send(message));
  }
}

export const SmsSenderProvider: Provider = {
  provide: SmsSender,
  inject: [AppConfig, SendOutcomes],
  useFactory: (config: AppConfig, outcomes: SendOutcomes) =>
    new ReportingSmsSender(createSmsSender(config), outcomes, config.sms.provider),
};
