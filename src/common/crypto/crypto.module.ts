import { Global, Module } from '@nestjs/common';
import { CodeHasher } from './code-hasher';
import { SecretBox } from './secret-box';

@Global()
@Module({ providers: [SecretBox, CodeHasher], exports: [SecretBox, CodeHasher] })
export class CryptoModule {}
