import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { rawQuery } from '../database/db-dialect';
import { SqlChange } from '../database/sql-change';

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

  async remove(em: EntityManager, purpose: string, userId: string): Promise<void> {
    await rawQuery(em, `DELETE FROM one_time_codes WHERE purpose = $1 AND user_id = $2`, [purpose, userId]);
  }
}
