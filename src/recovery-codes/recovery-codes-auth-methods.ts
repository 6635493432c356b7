import { Injectable } from '@nestjs/common';
import {
  AuthMethodSource,
  AuthMethodSourceProvider,
  AuthMethodType,
} from '../common/auth-methods/auth-method-source';
import { RecoveryCodesService } from './recovery-codes.service';

/** Recovery codes for the factor list: listed while at least one unused code remains. */
@Injectable()
@AuthMethodSourceProvider()
export class RecoveryCodesAuthMethods implements AuthMethodSource {
  constructor(private readonly recovery: RecoveryCodesService) {}

  async readyMethods(userId: string): Promise<AuthMethodType[]> {
    return (await this.recovery.isReady(userId)) ? ['AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE'] : [];
  }
}
