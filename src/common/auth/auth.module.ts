import { DynamicModule, Module, Type } from '@nestjs/common';
import { RevocationBus } from './revocation-bus';
import { TokenVerifier } from './token-verifier';

/**
 * Token verification for the global guard, and revocations that reach the token cache of every
 * instance. AuthDirectory is a port: AppModule names the module that provides it (identity), so
 * common/auth depends on no feature. Global, because the guard runs on every route and identity
 * itself needs the verifier (to drop cached tokens) while the verifier needs identity's port.
 */
@Module({})
export class AuthModule {
  static forRoot(directory: Type): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      imports: [directory],
      providers: [TokenVerifier, RevocationBus],
      exports: [TokenVerifier, RevocationBus],
    };
  }
}
