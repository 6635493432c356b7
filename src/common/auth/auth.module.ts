import { Global, Module } from '@nestjs/common';
import { TokenVerifier } from './token-verifier';

/** Token verification for the global guard. AuthDirectory is provided by the identity module. */
@Global()
@Module({ providers: [TokenVerifier], exports: [TokenVerifier] })
export class AuthModule {}
