import { Logger } from '@nestjs/common';
import { maskPhone } from '../phone-number';
import { SmsMessage, SmsSender } from './sms-sender';

/**
 * Development adapter: writes one log line per message with the number masked. The code appears
 * only with SMS_LOG_CODES=true (local development; never in production).
 */
export class LogSmsSender extends SmsSender {
  readonly name = 'log';
  private readonly logger = new Logger('SmsSender');

  constructor(private readonly logCodes: boolean) {
    super();
  }

  send(message: SmsMessage): Promise<void> {
    const to = maskPhone(message.to);
    this.logger.log(this.logCodes ? `SMS to ${to}: code ${message.code}` : `SMS to ${to}: code sent`);
    return Promise.resolve();
  }
}
