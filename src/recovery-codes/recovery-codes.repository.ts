import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { dialectOf, rawQuery } from '../common/database/db-dialect';
import { SqlChange, SqlChangeBatch } from '../common/database/sql-change';

/** An attempt taken on a user's recovery codes (RecoveryCodesRepository.takeAttempt). */
export interface TakenAttempt {
  attempts: number;
  windowStartedAt: number;
  /** The codes the set held when the attempt was taken. */
  codes: number;
}

/**
 * Recovery code sets and their codes. Using a code is one conditional DELETE whose affected row count
 * decides the winner; attempts are taken with one conditional UPDATE before any comparison.
 */
@Injectable()
export class RecoveryCodesRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Replaces the user's codes by `hashes` (the set row and its attempt window stay). */
  async replace(em: EntityManager, userId: string, hashes: string[], now: number): Promise<void> {
    await rawQuery(em, `DELETE FROM recovery_codes WHERE user_id = $1`, [userId]);
    await rawQuery(
      em,
      `INSERT INTO recovery_code_sets (user_id, attempts, window_started_at, created_at) VALUES ($1, 0, 0, $2)
       ON CONFLICT (user_id) DO UPDATE SET created_at = excluded.created_at`,
      [userId, now],
    );
    if (hashes.length === 0) return;
    // One statement for the whole set (at most 50 codes: 51 parameters).
    const values = hashes.map((_, i) => `($1, $${i + 2})`).join(', ');
    await rawQuery(em, `INSERT INTO recovery_codes (user_id, code_hash) VALUES ${values}`, [
      userId,
      ...hashes,
    ]);
  }

  /** Removes the set and its codes; false when there was none. */
  async remove(em: EntityManager, userId: string): Promise<boolean> {
    await rawQuery(em, `DELETE FROM recovery_codes WHERE user_id = $1`, [userId]);
    const { affected } = await rawQuery(em, `DELETE FROM recovery_code_sets WHERE user_id = $1`, [userId]);
    return affected === 1;
  }

  async findSet(
    em: EntityManager,
    userId: string,
  ): Promise<{ attempts: number; windowStartedAt: number } | undefined> {
    const { rows } = await rawQuery<{ attempts: number | string; window_started_at: number | string }>(
      em,
      `SELECT attempts, window_started_at FROM recovery_code_sets WHERE user_id = $1`,
      [userId],
    );
    return rows[0]
      ? { attempts: Number(rows[0].attempts), windowStartedAt: Number(rows[0].window_started_at) }
      : undefined;
  }

  /**
   * Takes an attempt before any code is compared: a new window starts when the previous one is over;
   * a set whose window is full matches no row. Answers the attempts spent in the window (this one
   * included), the window's start, and how many codes the set holds; undefined when there is no set
   * or the window is full.
   */
  async takeAttempt(
    em: EntityManager,
    userId: string,
    now: number,
    windowMs: number,
    maxAttempts: number,
  ): Promise<TakenAttempt | undefined> {
    const { rows } = await rawQuery<{
      attempts: number | string;
      window_started_at: number | string;
      codes: number | string;
    }>(
      em,
      `UPDATE recovery_code_sets
       SET attempts = CASE WHEN window_started_at <= $2 THEN 1 ELSE attempts + 1 END,
           window_started_at = CASE WHEN window_started_at <= $2 THEN $3 ELSE window_started_at END
       WHERE user_id = $1 AND (attempts < $4 OR window_started_at <= $2)
       RETURNING attempts, window_started_at, (SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1) AS codes`,
      [userId, now - windowMs, now, maxAttempts],
    );
    const r = rows[0];
    return r
      ? { attempts: Number(r.attempts), windowStartedAt: Number(r.window_started_at), codes: Number(r.codes) }
      : undefined;
  }

  /**
   * A successful check gives its attempt back, while the window it was taken in is still the current
   * one (the window's start tells).
   */
  async refundAttempt(em: EntityManager, userId: string, windowStartedAt: number): Promise<void> {
    await rawQuery(
      em,
      `UPDATE recovery_code_sets SET attempts = attempts - 1
       WHERE user_id = $1 AND attempts > 0 AND window_started_at = $2`,
      [userId, windowStartedAt],
    );
  }

  /**
   * Uses up the code whose hash (under any configured key) is in `hashes`: only one caller's change
   * applies.
   */
  consumption(userId: string, hashes: string[]): SqlChange {
    const list = hashes.map((_, i) => `$${i + 2}`).join(', ');
    return {
      sql: `DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash IN (${list})`,
      params: [userId, ...hashes],
    };
  }

  /**
   * `takeAttempt` for a batch of users, in the items' order. PostgreSQL: one statement for all of them.
   */
  async takeAttempts(
    em: EntityManager,
    items: { userId: string; now: number; windowMs: number; maxAttempts: number }[],
  ): Promise<(TakenAttempt | undefined)[]> {
    if (dialectOf(em) !== 'postgres') {
      const taken: (TakenAttempt | undefined)[] = [];
      for (const a of items)
        taken.push(await this.takeAttempt(em, a.userId, a.now, a.windowMs, a.maxAttempts));
      return taken;
    }
    const { rows } = await rawQuery<{
      user_id: string;
      attempts: number | string;
      window_started_at: number | string;
      codes: number | string;
    }>(
      em,
      `UPDATE recovery_code_sets s
       SET attempts = CASE WHEN s.window_started_at <= b.cutoff THEN 1 ELSE s.attempts + 1 END,
           window_started_at = CASE WHEN s.window_started_at <= b.cutoff THEN b.at ELSE s.window_started_at END
       FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::int[]) AS b(user_id, cutoff, at, max_attempts)
       WHERE s.user_id = b.user_id AND (s.attempts < b.max_attempts OR s.window_started_at <= b.cutoff)
       RETURNING s.user_id, s.attempts, s.window_started_at,
         (SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = s.user_id) AS codes`,
      [
        items.map((a) => a.userId),
        items.map((a) => a.now - a.windowMs),
        items.map((a) => a.now),
        items.map((a) => a.maxAttempts),
      ],
    );
    const byUser = new Map(rows.map((r) => [r.user_id, r]));
    return items.map((a) => {
      const r = byUser.get(a.userId);
      return r
        ? {
            attempts: Number(r.attempts),
            windowStartedAt: Number(r.window_started_at),
            codes: Number(r.codes),
          }
        : undefined;
    });
  }

  /** `refundAttempt` for a batch of successful checks (one per user). */
  async refundAttempts(
    em: EntityManager,
    items: { userId: string; windowStartedAt: number }[],
  ): Promise<void> {
    if (items.length === 0) return;
    if (dialectOf(em) !== 'postgres') {
      for (const r of items) await this.refundAttempt(em, r.userId, r.windowStartedAt);
      return;
    }
    await rawQuery(
      em,
      `UPDATE recovery_code_sets s SET attempts = s.attempts - 1
       FROM unnest($1::varchar[], $2::bigint[]) AS b(user_id, window_started_at)
       WHERE s.user_id = b.user_id AND s.attempts > 0 AND s.window_started_at = b.window_started_at`,
      [items.map((r) => r.userId), items.map((r) => r.windowStartedAt)],
    );
  }

  /** `consumption` for a batch of checks (one per user), for EventStore.changeAndAppendEach. */
  consumptions(em: EntityManager, items: { userId: string; hashes: string[] }[]): SqlChangeBatch {
    if (dialectOf(em) !== 'postgres') return { each: items.map((c) => this.consumption(c.userId, c.hashes)) };
    const pairs = items.flatMap((c) => c.hashes.map((hash) => [c.userId, hash]));
    return {
      postgres: {
        sql: `DELETE FROM recovery_codes r USING unnest($1::varchar[], $2::varchar[]) AS b(user_id, code_hash)
         WHERE r.user_id = b.user_id AND r.code_hash = b.code_hash
         RETURNING r.user_id AS aggregate_id`,
        params: [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
      },
    };
  }

  async remaining(em: EntityManager | undefined, userId: string): Promise<number> {
    const { rows } = await rawQuery<{ n: number | string }>(
      em ?? this.ds,
      `SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1`,
      [userId],
    );
    return Number(rows[0].n);
  }
}
