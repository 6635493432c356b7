import { Global, Module } from '@nestjs/common';
import { CodeHasher } from './code-hasher';
import { StoredKeysCheck } from './key-rotation';
import { SecretBox } from './secret-box';

@Global()
/** StoredKeysCheck: refuses to start when a stored value needs a key the configuration lacks. */
@Module({ providers: [SecretBox, CodeHasher, StoredKeysCheck], exports: [SecretBox, CodeHasher] })
export class CryptoModule {}
