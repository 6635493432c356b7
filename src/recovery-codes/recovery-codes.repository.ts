import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { rawQuery } from '../common/database/db-dialect';

/**
 * Recovery code sets and their codes: generating, removing, counting. The check has statements of its
 * own, per database (RecoveryCheckStrategy).
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

  async remaining(em: EntityManager | undefined, userId: string): Promise<number> {
    const { rows } = await rawQuery<{ n: number | string }>(
      em ?? this.ds,
      `SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1`,
      [userId],
    );
    return Number(rows[0].n);
  }
}
