import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { dialectOf, rawQuery } from '../database/db-dialect';
import { SqlChange, SqlChangeBatch } from '../database/sql-change';

export interface StoredCode {
  codeId: string;
  codeHash: string | null;
  expiresAt: number;
  attempts: number;
  sentAt: number;
}

interface RawCode {
  code_id: string;
  code_hash: string | null;
  expires_at: number | string;
  attempts: number | string;
  sent_at: number | string;
}

const toCode = (r: RawCode): StoredCode => ({
  codeId: r.code_id,
  codeHash: r.code_hash,
  expiresAt: Number(r.expires_at),
  attempts: Number(r.attempts),
  sentAt: Number(r.sent_at),
});

/** An attempt to spend on a user's pending code (see OneTimeCodeStore.takeAttempt). */
export interface CodeAttempt {
  purpose: string;
  userId: string;
  now: number;
  maxAttempts: number;
  factorChannel?: string;
}

/**
 * SQL of the pending one-time codes. Every change that races is one conditional statement whose
 * affected (or RETURNING) rows decide the winner.
 */
@Injectable()
export class OneTimeCodeStore {
  async find(em: EntityManager, purpose: string, userId: string): Promise<StoredCode | undefined> {
    const { rows } = await rawQuery<RawCode>(
      em,
      `SELECT code_id, code_hash, expires_at, attempts, sent_at FROM one_time_codes WHERE purpose = $1 AND user_id = $2`,
      [purpose, userId],
    );
    return rows[0] ? toCode(rows[0]) : undefined;
  }

  /**
   * The change that stores a new code in place of the previous one (which dies), unless the previous
   * one was issued less than the cooldown ago (`sentBefore` = now - cooldown): then it does not apply.
   */
  replacement(c: {
    purpose: string;
    userId: string;
    codeId: string;
    codeHash: string;
    expiresAt: number;
    now: number;
    sentBefore: number;
  }): SqlChange {
    return {
      sql: `INSERT INTO one_time_codes (purpose, user_id, code_id, code_hash, expires_at, attempts, sent_at)
       VALUES ($1, $2, $3, $4, $5, 0, $6)
       ON CONFLICT (purpose, user_id) DO UPDATE SET code_id = excluded.code_id, code_hash = excluded.code_hash,
         expires_at = excluded.expires_at, attempts = 0, sent_at = excluded.sent_at
       WHERE one_time_codes.sent_at <= $7`,
      params: [c.purpose, c.userId, c.codeId, c.codeHash, c.expiresAt, c.now, c.sentBefore],
    };
  }

  /** A code that could not be delivered: dead, and the cooldown lifted so the caller may retry at once. */
  async discard(em: EntityManager, purpose: string, userId: string, codeId: string): Promise<void> {
    await rawQuery(
      em,
      `UPDATE one_time_codes SET code_hash = NULL, sent_at = 0 WHERE purpose = $1 AND user_id = $2 AND code_id = $3`,
      [purpose, userId, codeId],
    );
  }

  /**
   * Spends one attempt on the pending code before it is compared (rate limit first): only while a
   * code is pending, unexpired and below `maxAttempts`, and, with `factorChannel`, while the user holds
   * that OTP channel factor. Returns the code as it is after the attempt.
   */
  async takeAttempt(
    em: EntityManager,
    purpose: string,
    userId: string,
    now: number,
    maxAttempts: number,
    factorChannel?: string,
  ): Promise<StoredCode | undefined> {
    const factor = factorChannel
      ? `AND EXISTS (SELECT 1 FROM otp_channel_factors f WHERE f.user_id = $2 AND f.channel = $5)`
      : '';
    const { rows } = await rawQuery<RawCode>(
      em,
      `UPDATE one_time_codes SET attempts = attempts + 1
       WHERE purpose = $1 AND user_id = $2 AND code_hash IS NOT NULL AND expires_at >= $3 AND attempts < $4
         ${factor}
       RETURNING code_id, code_hash, expires_at, attempts, sent_at`,
      factorChannel
        ? [purpose, userId, now, maxAttempts, factorChannel]
        : [purpose, userId, now, maxAttempts],
    );
    return rows[0] ? toCode(rows[0]) : undefined;
  }

  /** Uses up the code `codeId` (single use): only one caller's change applies. */
  consumption(purpose: string, userId: string, codeId: string): SqlChange {
    return {
      sql: `UPDATE one_time_codes SET code_hash = NULL
       WHERE purpose = $1 AND user_id = $2 AND code_id = $3 AND code_hash IS NOT NULL`,
      params: [purpose, userId, codeId],
    };
  }

  /**
   * `takeAttempt` for a batch of attempts (one per user), in the items' order. PostgreSQL: one
   * statement for all of them.
   */
  async takeAttempts(em: EntityManager, items: CodeAttempt[]): Promise<(StoredCode | undefined)[]> {
    if (dialectOf(em) !== 'postgres') {
      const taken: (StoredCode | undefined)[] = [];
      for (const a of items)
        taken.push(await this.takeAttempt(em, a.purpose, a.userId, a.now, a.maxAttempts, a.factorChannel));
      return taken;
    }
    const { rows } = await rawQuery<RawCode & { user_id: string }>(
      em,
      `UPDATE one_time_codes c SET attempts = c.attempts + 1
       FROM unnest($1::varchar[], $2::varchar[], $3::bigint[], $4::int[], $5::varchar[])
         AS b(purpose, user_id, at, max_attempts, channel)
       WHERE c.purpose = b.purpose AND c.user_id = b.user_id AND c.code_hash IS NOT NULL AND c.expires_at >= b.at
         AND c.attempts < b.max_attempts
         AND (b.channel IS NULL
           OR EXISTS (SELECT 1 FROM otp_channel_factors f WHERE f.user_id = b.user_id AND f.channel = b.channel))
       RETURNING c.user_id, c.code_id, c.code_hash, c.expires_at, c.attempts, c.sent_at`,
      [
        items.map((a) => a.purpose),
        items.map((a) => a.userId),
        items.map((a) => a.now),
        items.map((a) => a.maxAttempts),
        items.map((a) => a.factorChannel ?? null),
      ],
    );
    const byUser = new Map(rows.map((r) => [r.user_id, r]));
    return items.map((a) => {
      const r = byUser.get(a.userId);
      return r && toCode(r);
    });
  }

  /** `consumption` for a batch of codes (one per user), for EventStore.changeAndAppendEach. */
  consumptions(
    em: EntityManager,
    items: { purpose: string; userId: string; codeId: string }[],
  ): SqlChangeBatch {
    if (dialectOf(em) !== 'postgres')
      return { each: items.map((c) => this.consumption(c.purpose, c.userId, c.codeId)) };
    return {
      postgres: {
        sql: `UPDATE one_time_codes c SET code_hash = NULL
         FROM unnest($1::varchar[], $2::varchar[], $3::varchar[]) AS b(purpose, user_id, code_id)
         WHERE c.purpose = b.purpose AND c.user_id = b.user_id AND c.code_id = b.code_id AND c.code_hash IS NOT NULL
         RETURNING c.user_id AS aggregate_id`,
        params: [items.map((c) => c.purpose), items.map((c) => c.userId), items.map((c) => c.codeId)],
      },
    };
  }

  async remove(em: EntityManager, purpose: string, userId: string): Promise<void> {
    await rawQuery(em, `DELETE FROM one_time_codes WHERE purpose = $1 AND user_id = $2`, [purpose, userId]);
  }
}
