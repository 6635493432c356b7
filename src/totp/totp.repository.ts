import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { rawQuery } from '../common/database/db-dialect';
import { SqlChange } from '../common/database/sql-change';
import { TotpState } from './entities/totp-factor.entity';

/** A factor as the service reads it. */
export interface TotpFactor {
  userId: string;
  orgId: string;
  state: TotpState;
  secretSealed: string;
  lastStep: number;
  failedAttempts: number;
  windowStartedAt: number;
  lockouts: number;
  lockedUntil: number;
}

interface FactorRow {
  user_id: string;
  org_id: string;
  state: TotpState;
  secret_sealed: string;
  last_step: number | string;
  failed_attempts: number | string;
  window_started_at: number | string;
  lockouts: number | string;
  locked_until: number | string;
}

/**
 * TOTP factors: reads need no transaction; life-cycle writes (register, remove) run in the caller's
 * transaction. Code attempts take their own path (AttemptStrategy).
 */
@Injectable()
export class TotpRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async find(userId: string): Promise<TotpFactor | undefined> {
    const { rows } = await rawQuery<FactorRow>(
      this.ds,
      `SELECT user_id, org_id, state, secret_sealed, last_step, failed_attempts, window_started_at, lockouts,
          locked_until
        FROM totp_factors WHERE user_id = $1`,
      [userId],
    );
    const r = rows[0];
    if (!r) return undefined;
    // BIGINT columns come back from node-pg as strings.
    return {
      userId: r.user_id,
      orgId: r.org_id,
      state: r.state,
      secretSealed: r.secret_sealed,
      lastStep: Number(r.last_step),
      failedAttempts: Number(r.failed_attempts),
      windowStartedAt: Number(r.window_started_at),
      lockouts: Number(r.lockouts),
      lockedUntil: Number(r.locked_until),
    };
  }

  /**
   * The change that stores a new (not yet verified) secret: a first TOTP, or in place of an unverified
   * one. It does not apply, changing nothing, when the user's TOTP is already ready. One statement: a
   * racing verify cannot be overwritten.
   */
  newSecret(userId: string, orgId: string, secretSealed: string, now: number): SqlChange {
    return {
      sql: `INSERT INTO totp_factors (user_id, org_id, state, secret_sealed, created_at, updated_at)
       VALUES ($1, $2, 'NOT_READY', $3, $4, $4)
       ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, updated_at = excluded.updated_at
       WHERE totp_factors.state = 'NOT_READY'`,
      params: [userId, orgId, secretSealed, now],
    };
  }

  /** Deletes the user's TOTP; its organisation, or undefined when there was none. */
  async remove(em: EntityManager, userId: string): Promise<{ orgId: string } | undefined> {
    const { rows } = await rawQuery<{ org_id: string }>(
      em,
      `DELETE FROM totp_factors WHERE user_id = $1 RETURNING org_id`,
      [userId],
    );
    return rows[0] ? { orgId: rows[0].org_id } : undefined;
  }
}
