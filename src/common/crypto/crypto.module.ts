import { Module } from '@nestjs/common';
import { CodeHasher } from './code-hasher';
import { StoredKeysCheck } from './key-rotation';
import { SecretBox } from './secret-box';

/**
 * Encryption at rest (SecretBox) and keyed code hashes (CodeHasher), for the modules that import it.
 * StoredKeysCheck: refuses to start when a stored value needs a key the configuration lacks.
 */
@Module({ providers: [SecretBox, CodeHasher, StoredKeysCheck], exports: [SecretBox, CodeHasher] })
export class CryptoModule {}
