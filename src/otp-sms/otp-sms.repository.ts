import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { rawQuery } from '../common/database/db-dialect';
import { OtpSmsAuthenticatorEntity, OtpSmsState } from './entities/otp-sms-authenticator.entity';

export interface NewAuthenticator {
  id: string;
  userId: string;
  numberHash: string;
  numberSealed: string;
  state: OtpSmsState;
  codeHash: string | null;
  codeGeneration: number;
  codeExpiresAt: number | null;
  lastCodeAt: number | null;
  now: number;
}

export interface TakenAttempt {
  codeHash: string;
  codeGeneration: number;
  /** Attempts spent on the code, this one included. */
  attempts: number;
}

/**
 * Persistence of OTP SMS authenticators and the per-number daily counters. Every state change that
 * races is one conditional statement whose affected rows (or RETURNING row) decide the winner.
 * Writes take the transaction's EntityManager first; reads need none (an optional last `em` reads
 * inside a transaction).
 */
@Injectable()
export class OtpSmsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  find(userId: string, id: string, em?: EntityManager): Promise<OtpSmsAuthenticatorEntity | null> {
    return (em ?? this.ds.manager)
      .getRepository(OtpSmsAuthenticatorEntity)
      .findOne({ where: { id, userId } });
  }

  async existsForNumber(userId: string, numberHashes: string[], em?: EntityManager): Promise<boolean> {
    return (
      (await (em ?? this.ds.manager)
        .getRepository(OtpSmsAuthenticatorEntity)
        .count({ where: { userId, numberHash: In(numberHashes) } })) > 0
    );
  }

  async insert(em: EntityManager, a: NewAuthenticator): Promise<void> {
    await em.getRepository(OtpSmsAuthenticatorEntity).insert({
      id: a.id,
      userId: a.userId,
      numberHash: a.numberHash,
      numberSealed: a.numberSealed,
      state: a.state,
      codeHash: a.codeHash,
      codeGeneration: a.codeGeneration,
      codeExpiresAt: a.codeExpiresAt,
      codeAttempts: 0,
      lastCodeAt: a.lastCodeAt,
      createdAt: a.now,
      changedAt: a.now,
    });
  }

  /**
   * Claims the right to issue a new code: succeeds only when the last code was issued at or before
   * `cooldownCutoff` (or none was). Concurrent callers cannot both win.
   */
  async claimCodeSlot(em: EntityManager, id: string, now: number, cooldownCutoff: number): Promise<boolean> {
    const { affected } = await rawQuery(
      em,
      `UPDATE otp_sms_authenticators SET last_code_at = $1
       WHERE id = $2 AND (last_code_at IS NULL OR last_code_at <= $3)`,
      [now, id, cooldownCutoff],
    );
    return affected === 1;
  }

  /** Replaces the pending code, if no other code was stored since generation `expected` was read. */
  async storeCode(
    em: EntityManager,
    id: string,
    expectedGeneration: number,
    codeHash: string,
    expiresAt: number,
    now: number,
  ): Promise<boolean> {
    const { affected } = await rawQuery(
      em,
      `UPDATE otp_sms_authenticators
       SET code_hash = $1, code_generation = $2, code_expires_at = $3, code_attempts = 0, changed_at = $4
       WHERE id = $5 AND code_generation = $6`,
      [codeHash, expectedGeneration + 1, expiresAt, now, id, expectedGeneration],
    );
    return affected === 1;
  }

  /**
   * Spends one attempt on the pending code before it is compared (rate limit first): succeeds only
   * when the authenticator is in `state`, a code is pending, unexpired and below `maxAttempts`.
   */
  async takeAttempt(
    em: EntityManager,
    userId: string,
    id: string,
    state: OtpSmsState,
    now: number,
    maxAttempts: number,
  ): Promise<TakenAttempt | undefined> {
    const { rows } = await rawQuery<{
      code_hash: string;
      code_generation: number | string;
      code_attempts: number | string;
    }>(
      em,
      `UPDATE otp_sms_authenticators SET code_attempts = code_attempts + 1
       WHERE id = $1 AND user_id = $2 AND state = $3 AND code_hash IS NOT NULL
         AND code_expires_at >= $4 AND code_attempts < $5
       RETURNING code_hash, code_generation, code_attempts`,
      [id, userId, state, now, maxAttempts],
    );
    const row = rows[0];
    return row
      ? {
          codeHash: row.code_hash,
          codeGeneration: Number(row.code_generation),
          attempts: Number(row.code_attempts),
        }
      : undefined;
  }

  /**
   * Uses up the pending code of generation `generation` (single use) and, for a registration, makes
   * the authenticator ready. Only one caller can succeed.
   */
  async consumeCode(
    em: EntityManager,
    id: string,
    generation: number,
    now: number,
    markReady: boolean,
  ): Promise<boolean> {
    const { affected } = await rawQuery(
      em,
      `UPDATE otp_sms_authenticators
       SET code_hash = NULL, code_expires_at = NULL, code_attempts = 0, changed_at = $1${markReady ? `, state = 'READY'` : ''}
       WHERE id = $2 AND code_generation = $3 AND code_hash IS NOT NULL`,
      [now, id, generation],
    );
    return affected === 1;
  }

  async delete(em: EntityManager, userId: string, id: string): Promise<boolean> {
    const { affected } = await rawQuery(
      em,
      `DELETE FROM otp_sms_authenticators WHERE id = $1 AND user_id = $2`,
      [id, userId],
    );
    return affected === 1;
  }

  /** Whether the user has a READY authenticator (for the factor list). */
  async anyReady(userId: string, em?: EntityManager): Promise<boolean> {
    return (
      (await (em ?? this.ds.manager)
        .getRepository(OtpSmsAuthenticatorEntity)
        .count({ where: { userId, state: 'READY' } })) > 0
    );
  }
}
