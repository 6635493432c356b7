import { Injectable } from '@nestjs/common';
import {
  AuthMethodSource,
  AuthMethodSourceProvider,
  AuthMethodType,
} from '../common/auth-methods/auth-method-source';
import { OtpEmailService } from './otp-email.service';

/** OTP Email for the factor list (ready once added). */
@Injectable()
@AuthMethodSourceProvider()
export class OtpEmailAuthMethods implements AuthMethodSource {
  constructor(private readonly otpEmail: OtpEmailService) {}

  async readyMethods(userId: string): Promise<AuthMethodType[]> {
    return (await this.otpEmail.isReady(userId)) ? ['AUTHENTICATION_METHOD_TYPE_OTP_EMAIL'] : [];
  }
}
