import { Provider } from '@nestjs/common';
import { AppConfig } from '../../common/config/app-config';
import { LogSmsSender } from './log-sms-sender';
import { SmsSender } from './sms-sender';
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

export const SmsSenderProvider: Provider = {
  provide: SmsSender,
  inject: [AppConfig],
  useFactory: createSmsSender,
};
