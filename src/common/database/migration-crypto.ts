import { QueryRunner } from 'typeorm';

/** What a data migration needs to seal or open values at rest (the SecretBox of the configured keys). */
export interface MigrationCrypto {
  seal(plaintext: string, aad: string): string;
  open(sealed: string, aad: string): string;
}

const CRYPTO = Symbol('migration-crypto');

/**
 * Hands the keys to the migrations of a data source: they travel on its options, so every migration
 * run (start-up, `npm run migration:run`) sees the keys of its own configuration.
 */
export function withMigrationCrypto<T extends object>(options: T, crypto: MigrationCrypto): T {
  return Object.assign(options, { [CRYPTO]: crypto });
}

/** The keys handed to this migration run; undefined where none were (schema tools, drift tests). */
export function migrationCrypto(queryRunner: QueryRunner): MigrationCrypto | undefined {
  return (queryRunner.connection.options as { [CRYPTO]?: MigrationCrypto })[CRYPTO];
}
