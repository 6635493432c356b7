import { Injectable } from '@nestjs/common';
import {
  AuthMethodSource,
  AuthMethodSourceProvider,
  AuthMethodType,
} from '../common/auth-methods/auth-method-source';
import { TotpRepository } from './totp.repository';

/** TOTP for the factor list: one per user (v2 and v1 share it), listed once READY. */
@Injectable()
@AuthMethodSourceProvider()
export class TotpAuthMethods implements AuthMethodSource {
  constructor(private readonly repo: TotpRepository) {}

  async readyMethods(userId: string): Promise<AuthMethodType[]> {
    const f = await this.repo.find(userId);
    return f?.state === 'READY' ? ['AUTHENTICATION_METHOD_TYPE_TOTP'] : [];
  }
}
