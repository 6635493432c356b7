import { Global, Module } from '@nestjs/common';
import { RevocationBus } from './revocation-bus';
import { TokenVerifier } from './token-verifier';

/**
 * Token verification for the global guard, and revocations that reach the token cache of every
 * instance. AuthDirectory is provided by the identity module.
 */
@Global()
@Module({ providers: [TokenVerifier, RevocationBus], exports: [TokenVerifier, RevocationBus] })
export class AuthModule {}
