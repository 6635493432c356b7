import { Injectable } from '@nestjs/common';
import {
  AuthMethodSource,
  AuthMethodSourceProvider,
  AuthMethodType,
} from '../common/auth-methods/auth-method-source';
import { OtpSmsV2Service } from './otp-sms-v2.service';
import { OtpSmsRepository } from './otp-sms.repository';

/** OTP SMS for the factor list: the v2 factor, or a READY v3alpha authenticator. */
@Injectable()
@AuthMethodSourceProvider()
export class OtpSmsAuthMethods implements AuthMethodSource {
  constructor(
    private readonly v2: OtpSmsV2Service,
    private readonly repo: OtpSmsRepository,
  ) {}

  async readyMethods(userId: string): Promise<AuthMethodType[]> {
    const ready = (await this.v2.isReady(userId)) || (await this.repo.anyReady(userId));
    return ready ? ['AUTHENTICATION_METHOD_TYPE_OTP_SMS'] : [];
  }
}
