import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import {
  AUTH_METHOD_TYPES,
  AuthMethodSource,
  AuthMethodSourceProvider,
} from '../common/auth-methods/auth-method-source';
import { Clock } from '../common/time/clock';
import { CommonErrors } from '../common/errors/common-errors';
import { UsersReader } from '../identity';
import { ListAuthenticationMethodTypesResponseDto } from './dto/auth-methods.dto';

/**
 * ListAuthenticationMethodTypes: asks every AuthMethodSource (found by their marker, so factor modules
 * register themselves and this module imports none of them) and answers the union in enum order.
 */
@Injectable()
export class AuthMethodsService {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly users: UsersReader,
    private readonly clock: Clock,
  ) {}

  private get sources(): AuthMethodSource[] {
    return this.discovery
      .getProviders({ metadataKey: AuthMethodSourceProvider.KEY })
      .map((w) => w.instance as AuthMethodSource)
      .filter((s) => !!s && typeof s.readyMethods === 'function');
  }

  async list(userId: string): Promise<ListAuthenticationMethodTypesResponseDto> {
    const user = await this.users.findUser(userId);
    if (!user) throw CommonErrors.userNotFound();
    const found = new Set((await Promise.all(this.sources.map((s) => s.readyMethods(user.id)))).flat());
    const authMethodTypes = AUTH_METHOD_TYPES.filter((t) => found.has(t));
    return {
      details: {
        totalResult: String(authMethodTypes.length),
        timestamp: new Date(this.clock.now()).toISOString(),
      },
      authMethodTypes,
    };
  }
}
