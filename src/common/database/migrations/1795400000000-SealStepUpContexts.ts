import { MigrationInterface, QueryRunner } from 'typeorm';
import { rawQuery } from '../db-dialect';
import { migrationCrypto } from '../migration-crypto';
import { stepUpContextAad } from '../../../email-challenge/entities/email-challenge-context.entity';

/** Sealed values start with their format version; a plaintext context is a JSON object. */
const isSealed = (value: string) => value.startsWith('v1.');

/**
 * Step-up request contexts (they may hold payment details) are sealed at rest like the other secrets:
 * seals every plaintext row under the current MASTER_KEY (down: opens them again). No schema change.
 */
export class SealStepUpContexts1795400000000 implements MigrationInterface {
  name = 'SealStepUpContexts1795400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await this.rewrite(
      queryRunner,
      (v) => !isSealed(v),
      (crypto, v, aad) => crypto.seal(v, aad),
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await this.rewrite(queryRunner, isSealed, (crypto, v, aad) => crypto.open(v, aad));
  }

  private async rewrite(
    queryRunner: QueryRunner,
    pick: (value: string) => boolean,
    change: (crypto: NonNullable<ReturnType<typeof migrationCrypto>>, value: string, aad: string) => string,
  ): Promise<void> {
    const em = queryRunner.manager;
    const { rows } = await rawQuery<{ challenge_id: string; context: string }>(
      em,
      'SELECT challenge_id, context FROM email_challenge_contexts',
    );
    const todo = rows.filter((r) => pick(r.context));
    if (todo.length === 0) return;
    const crypto = migrationCrypto(queryRunner);
    if (!crypto)
      throw new Error(
        'sealing step-up contexts needs the MASTER_KEY: run the migrations through the service or npm run migration:run',
      );
    for (const r of todo) {
      await rawQuery(em, 'UPDATE email_challenge_contexts SET context = $1 WHERE challenge_id = $2', [
        change(crypto, r.context, stepUpContextAad(r.challenge_id)),
        r.challenge_id,
      ]);
    }
  }
}
