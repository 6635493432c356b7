import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { numOrNull } from '../common/database/columns';
import { dialectOf, rawQuery } from '../common/database/db-dialect';
import { SqlChange } from '../common/database/sql-change';
import { dailyCountCtes, DailySendCounter, dayOf } from '../common/one-time-code/daily-send-counter';
import { OtpSmsState } from './entities/otp-sms-authenticator.entity';

/** An authenticator as the service reads it (the entity never leaves the repository). */
export interface OtpSmsAuthenticator {
  id: string;
  userId: string;
  numberHash: string;
  numberSealed: string;
  state: OtpSmsState;
  codeHash: string | null;
  codeGeneration: number;
  codeExpiresAt: number | null;
  codeAttempts: number;
  lastCodeAt: number | null;
}

/** The authenticator a new code may be issued for (its cooldown slot is claimed). */
export type ClaimedSlot = Pick<OtpSmsAuthenticator, 'id' | 'numberHash' | 'numberSealed' | 'codeGeneration'>;

const COLUMNS = `id, user_id, number_hash, number_sealed, state, code_hash, code_generation, code_expires_at,
  code_attempts, last_code_at`;

/** What a claim returns of the authenticator's row. */
interface RawClaim {
  number_hash: string;
  number_sealed: string;
  code_generation: number | string;
}

const toClaim = (id: string, r: RawClaim): ClaimedSlot => ({
  id,
  numberHash: r.number_hash,
  numberSealed: r.number_sealed,
  codeGeneration: Number(r.code_generation),
});

/** A row of COLUMNS (node-pg returns BIGINT as a string). */
interface RawAuthenticator {
  id: string;
  user_id: string;
  number_hash: string;
  number_sealed: string;
  state: OtpSmsState;
  code_hash: string | null;
  code_generation: number | string;
  code_expires_at: number | string | null;
  code_attempts: number | string;
  last_code_at: number | string | null;
}

function toAuthenticator(r: RawAuthenticator): OtpSmsAuthenticator {
  return {
    id: r.id,
    userId: r.user_id,
    numberHash: r.number_hash,
    numberSealed: r.number_sealed,
    state: r.state,
    codeHash: r.code_hash,
    codeGeneration: Number(r.code_generation),
    codeExpiresAt: numOrNull(r.code_expires_at),
    codeAttempts: Number(r.code_attempts),
    lastCodeAt: numOrNull(r.last_code_at),
  };
}

/** A new authenticator: its read model without spent attempts (a new code has none), and the time of writing. */
export type NewAuthenticator = Omit<OtpSmsAuthenticator, 'codeAttempts'> & { now: number };

/**
 * Persistence of OTP SMS authenticators and the per-number daily counters. Every state change that
 * races is one conditional statement whose affected rows (or RETURNING row) decide the winner.
 * Writes take the transaction's EntityManager first; reads need none (an optional last `em` reads
 * inside a transaction).
 */
@Injectable()
export class OtpSmsRepository {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly counter: DailySendCounter,
  ) {}

  async find(userId: string, id: string, em?: EntityManager): Promise<OtpSmsAuthenticator | undefined> {
    const { rows } = await rawQuery<RawAuthenticator>(
      em ?? this.ds,
      `SELECT ${COLUMNS} FROM otp_sms_authenticators WHERE id = $1 AND user_id = $2`,
      [id, userId],
    );
    return rows[0] ? toAuthenticator(rows[0]) : undefined;
  }

  async existsForNumber(userId: string, numberHashes: string[], em?: EntityManager): Promise<boolean> {
    const list = numberHashes.map((_, i) => `$${i + 2}`).join(', ');
    const { rows } = await rawQuery(
      em ?? this.ds,
      `SELECT 1 AS one FROM otp_sms_authenticators WHERE user_id = $1 AND number_hash IN (${list}) LIMIT 1`,
      [userId, ...numberHashes],
    );
    return rows.length > 0;
  }

  async insert(em: EntityManager, a: NewAuthenticator): Promise<void> {
    await rawQuery(
      em,
      `INSERT INTO otp_sms_authenticators (id, user_id, number_hash, number_sealed, state, code_hash,
          code_generation, code_expires_at, code_attempts, last_code_at, created_at, changed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10)`,
      [
        a.id,
        a.userId,
        a.numberHash,
        a.numberSealed,
        a.state,
        a.codeHash,
        a.codeGeneration,
        a.codeExpiresAt,
        a.lastCodeAt,
        a.now,
      ],
    );
  }

  /**
   * Claims the right to issue a new code for the user's authenticator in `state`: succeeds only when
   * the last code was issued at or before `cooldownCutoff` (or none was). Concurrent callers cannot
   * both win. With `dailyLimit`, the claim also counts one message to the authenticator's number
   * against the shared daily budget (DailySendCounter), and answers `daily-limit` when the budget is
   * spent: then the caller must throw inside the unit, so that SQLite undoes the claim (on PostgreSQL
   * the one statement claimed nothing). Returns what issuing the code needs, or undefined (unknown,
   * other state or cooldown: the caller reads the row to say which).
   *
   * PostgreSQL with `dailyLimit`: one statement. It locks the authenticator row if it is claimable
   * (a concurrent claim waits and sees the new `last_code_at`), counts the message, and sets
   * `last_code_at` only when the message was counted.
   */
  async claimCodeSlot(
    em: EntityManager,
    userId: string,
    id: string,
    state: OtpSmsState,
    now: number,
    cooldownCutoff: number,
    dailyLimit?: number,
  ): Promise<ClaimedSlot | 'daily-limit' | undefined> {
    const slotWhere = `id = $2 AND user_id = $3 AND state = $4 AND (last_code_at IS NULL OR last_code_at <= $5)`;
    if (dailyLimit !== undefined && dialectOf(em) === 'postgres') {
      const { rows } = await rawQuery<Partial<RawClaim> & { claimable: boolean }>(
        em,
        `WITH slot AS (
           SELECT id, number_hash FROM otp_sms_authenticators WHERE ${slotWhere} FOR UPDATE
         ), ${dailyCountCtes('slot', '$6', '$7')}, claimed AS (
           UPDATE otp_sms_authenticators a SET last_code_at = $1
           FROM slot WHERE a.id = slot.id AND EXISTS (SELECT 1 FROM counted)
           RETURNING a.number_hash, a.number_sealed, a.code_generation
         )
         SELECT EXISTS (SELECT 1 FROM slot) AS claimable, claimed.* FROM (SELECT 1) AS one LEFT JOIN claimed ON true`,
        [now, id, userId, state, cooldownCutoff, dayOf(now), dailyLimit],
      );
      const r = rows[0];
      if (!r?.claimable) return undefined;
      // claimable, but nothing claimed: the message was not counted
      return r.number_hash ? toClaim(id, r as RawClaim) : 'daily-limit';
    }
    const { rows } = await rawQuery<RawClaim>(
      em,
      `UPDATE otp_sms_authenticators SET last_code_at = $1 WHERE ${slotWhere}
       RETURNING number_hash, number_sealed, code_generation`,
      [now, id, userId, state, cooldownCutoff],
    );
    if (!rows[0]) return undefined;
    const claim = toClaim(id, rows[0]);
    if (dailyLimit === undefined) return claim;
    const over = await this.counter.count(em, claim.numberHash, now, dailyLimit);
    return over === undefined ? claim : 'daily-limit';
  }

  /**
   * The change that replaces the pending code, if no other code was stored since generation
   * `expectedGeneration` was read (it does not apply otherwise).
   */
  newCode(
    id: string,
    expectedGeneration: number,
    codeHash: string,
    expiresAt: number,
    now: number,
  ): SqlChange {
    return {
      sql: `UPDATE otp_sms_authenticators
       SET code_hash = $1, code_generation = $2, code_expires_at = $3, code_attempts = 0, changed_at = $4
       WHERE id = $5 AND code_generation = $6`,
      params: [codeHash, expectedGeneration + 1, expiresAt, now, id, expectedGeneration],
    };
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
    const { rows } = await rawQuery(
      em ?? this.ds,
      `SELECT 1 AS one FROM otp_sms_authenticators WHERE user_id = $1 AND state = 'READY' LIMIT 1`,
      [userId],
    );
    return rows.length > 0;
  }
}
