import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { SecretBox } from '../common/crypto/secret-box';
import { numOrNull } from '../common/database/columns';
import { rawQuery } from '../common/database/db-dialect';
import { RANDOM_ID_PATTERN } from '../common/database/id-generator';
import { SqlChange } from '../common/database/sql-change';
import { stepUpContextAad } from './entities/email-challenge-context.entity';
import { EmailChallengeEntity, StoredStatus, UNSENT } from './entities/email-challenge.entity';

/** A challenge as the service sees it (the entity never leaves this module). */
export type ChallengeRow = Omit<EmailChallengeEntity, 'user' | 'status'> & { status: StoredStatus };

const COLUMNS = `id, user_id, org_id, operation, status, code_hash, generation, attempts, max_attempts, ttl_seconds,
  expires_at, last_sent_at, verified_at, consumed_at, created_at`;

interface RawRow {
  id: string;
  user_id: string;
  org_id: string;
  operation: string;
  status: StoredStatus;
  code_hash: string | null;
  generation: number | string;
  attempts: number | string;
  max_attempts: number | string;
  ttl_seconds: number | string;
  expires_at: number | string;
  last_sent_at: number | string;
  verified_at: number | string | null;
  consumed_at: number | string | null;
  created_at: number | string;
}

const num = (v: number | string) => Number(v);

function toRow(r: RawRow): ChallengeRow {
  return {
    id: r.id,
    userId: r.user_id,
    orgId: r.org_id,
    operation: r.operation,
    status: r.status,
    codeHash: r.code_hash,
    generation: num(r.generation),
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    ttlSeconds: num(r.ttl_seconds),
    expiresAt: num(r.expires_at),
    lastSentAt: num(r.last_sent_at),
    verifiedAt: numOrNull(r.verified_at),
    consumedAt: numOrNull(r.consumed_at),
    createdAt: num(r.created_at),
  };
}

/**
 * Intent-named data access for email challenges. Every state change is one conditional UPDATE whose
 * WHERE clause re-states the preconditions, so racing requests cannot both win.
 */
@Injectable()
export class EmailChallengeRepository {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly box: SecretBox,
  ) {}

  async find(id: string, em?: EntityManager): Promise<ChallengeRow | undefined> {
    if (!RANDOM_ID_PATTERN.test(id)) return undefined;
    const { rows } = await rawQuery<RawRow>(
      em ?? this.ds,
      `SELECT ${COLUMNS} FROM email_challenges WHERE id = $1 AND status <> '${UNSENT}'`,
      [id],
    );
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  /**
   * The change that stores a new challenge as UNSENT (invisible until `markSent`) with its sealed
   * request context: the context's INSERT, after the challenge's own (`before`), so that on PostgreSQL
   * both are one statement with the challenge's event.
   */
  creation(row: ChallengeRow, context: Record<string, unknown>): SqlChange {
    return {
      before: [
        `INSERT INTO email_challenges (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      ],
      sql: 'INSERT INTO email_challenge_contexts (challenge_id, context) VALUES ($1, $16)',
      params: [
        row.id,
        row.userId,
        row.orgId,
        row.operation,
        UNSENT,
        row.codeHash,
        row.generation,
        row.attempts,
        row.maxAttempts,
        row.ttlSeconds,
        row.expiresAt,
        row.lastSentAt,
        row.verifiedAt,
        row.consumedAt,
        row.createdAt,
        this.box.seal(JSON.stringify(context), stepUpContextAad(row.id)),
      ],
    };
  }

  /** The first mail went out: the challenge becomes what `row.status` said at insert (PENDING). */
  async markSent(em: EntityManager, id: string): Promise<boolean> {
    const { rows } = await rawQuery(
      em,
      `UPDATE email_challenges SET status = 'PENDING' WHERE id = $1 AND status = '${UNSENT}' RETURNING id`,
      [id],
    );
    return rows.length === 1;
  }

  /** Challenges whose first send began before `before` and never finished (the process died): deleted. */
  async purgeUnsent(em: EntityManager, before: number): Promise<number> {
    const where = `status = '${UNSENT}' AND created_at < $1`;
    await rawQuery(
      em,
      `DELETE FROM email_challenge_contexts WHERE challenge_id IN (SELECT id FROM email_challenges WHERE ${where})`,
      [before],
    );
    const { affected } = await rawQuery(em, `DELETE FROM email_challenges WHERE ${where}`, [before]);
    return affected;
  }

  /** Removes a challenge whose code could not be sent (its context goes with it). */
  async remove(em: EntityManager, id: string): Promise<void> {
    await rawQuery(em, 'DELETE FROM email_challenge_contexts WHERE challenge_id = $1', [id]);
    await rawQuery(em, 'DELETE FROM email_challenges WHERE id = $1', [id]);
  }

  /**
   * Replaces the code of a PENDING challenge (old code dead), restarting its lifetime, if the last
   * code was sent at or before `cooldownCutoff` and nobody resent in between (`generation` unchanged).
   */
  async replaceCode(
    em: EntityManager,
    a: {
      id: string;
      generation: number;
      codeHash: string;
      now: number;
      expiresAt: number;
      cooldownCutoff: number;
    },
  ): Promise<boolean> {
    const { rows } = await rawQuery(
      em,
      `UPDATE email_challenges SET code_hash = $3, generation = generation + 1, last_sent_at = $4, expires_at = $5
        WHERE id = $1 AND generation = $2 AND status = 'PENDING' AND expires_at > $4 AND last_sent_at <= $6
        RETURNING id`,
      [a.id, a.generation, a.codeHash, a.now, a.expiresAt, a.cooldownCutoff],
    );
    return rows.length === 1;
  }

  /** After a failed resend: allow an immediate retry (the unsent code stays the only valid one). */
  async resetSendTime(em: EntityManager, id: string, generation: number, lastSentAt: number): Promise<void> {
    await rawQuery(em, 'UPDATE email_challenges SET last_sent_at = $3 WHERE id = $1 AND generation = $2', [
      id,
      generation,
      lastSentAt,
    ]);
  }

  /**
   * VERIFIED → CONSUMED, once, and only while the request context still exists; optionally bound
   * to a subject and operation (step-up). Returns the context, or undefined when it did not qualify.
   */
  async consume(
    em: EntityManager,
    id: string,
    now: number,
    bind?: { userId: string; operation: string },
  ): Promise<Record<string, unknown> | undefined> {
    const { rows } = await rawQuery(
      em,
      `UPDATE email_challenges SET status = 'CONSUMED', consumed_at = $2
        WHERE id = $1 AND status = 'VERIFIED'
          AND EXISTS (SELECT 1 FROM email_challenge_contexts c WHERE c.challenge_id = $1)
          ${bind ? 'AND user_id = $3 AND operation = $4' : ''}
        RETURNING id`,
      bind ? [id, now, bind.userId, bind.operation] : [id, now],
    );
    if (rows.length !== 1) return undefined;
    const taken = await rawQuery<{ context: string }>(
      em,
      'DELETE FROM email_challenge_contexts WHERE challenge_id = $1 RETURNING context',
      [id],
    );
    return JSON.parse(this.box.open(taken.rows[0].context, stepUpContextAad(id))) as Record<string, unknown>;
  }

  /** Retention, phase 1: request contexts and code hashes of challenges created before `before`. */
  async purgeContexts(em: EntityManager, before: number): Promise<number> {
    const { affected } = await rawQuery(
      em,
      'DELETE FROM email_challenge_contexts WHERE challenge_id IN (SELECT id FROM email_challenges WHERE created_at < $1)',
      [before],
    );
    await rawQuery(
      em,
      'UPDATE email_challenges SET code_hash = NULL WHERE created_at < $1 AND code_hash IS NOT NULL',
      [before],
    );
    return affected;
  }

  /** Retention, phase 2: the challenge rows themselves. */
  async purgeChallenges(em: EntityManager, before: number): Promise<number> {
    await rawQuery(
      em,
      'DELETE FROM email_challenge_contexts WHERE challenge_id IN (SELECT id FROM email_challenges WHERE created_at < $1)',
      [before],
    );
    const { affected } = await rawQuery(em, 'DELETE FROM email_challenges WHERE created_at < $1', [before]);
    return affected;
  }
}
