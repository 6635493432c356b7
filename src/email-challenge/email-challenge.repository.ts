import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { SecretBox } from '../common/crypto/secret-box';
import { numOrNull } from '../common/database/columns';
import { dialectOf, rawQuery } from '../common/database/db-dialect';
import { RANDOM_ID_PATTERN } from '../common/database/id-generator';
import { SqlChange, SqlChangeBatch } from '../common/database/sql-change';
import { stepUpContextAad } from './entities/email-challenge-context.entity';
import { EmailChallengeEntity, StoredStatus, UNSENT } from './entities/email-challenge.entity';

/** An attempt spent on a challenge's code: what the comparison needs. */
export interface TakenAttempt {
  /** The subject's organisation (the resource owner of the events). */
  orgId: string;
  codeHash: string | null;
  generation: number;
  /** Attempts spent on the challenge, this one included. */
  attempts: number;
  maxAttempts: number;
}

/** The row an attempt statement returns (node-pg returns BIGINT as a string). */
interface RawTaken {
  org_id: string;
  code_hash: string | null;
  generation: number | string;
  attempts: number | string;
  max_attempts: number | string;
}

function takenOf(r: RawTaken): TakenAttempt {
  return {
    orgId: r.org_id,
    codeHash: r.code_hash,
    generation: Number(r.generation),
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
  };
}

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
   * Spends one attempt of `userId` on the code before it is compared (rate limit first): succeeds only
   * while the challenge is that user's, PENDING, unexpired and below max_attempts. Returns what the
   * comparison and the events need, or undefined when the challenge is not verifiable by that user
   * (the caller reads it to say why).
   */
  async takeAttempt(
    em: EntityManager,
    id: string,
    userId: string,
    now: number,
  ): Promise<TakenAttempt | undefined> {
    if (!RANDOM_ID_PATTERN.test(id)) return undefined;
    const { rows } = await rawQuery<RawTaken>(
      em,
      `UPDATE email_challenges SET attempts = attempts + 1
        WHERE id = $1 AND user_id = $3 AND status = 'PENDING' AND expires_at > $2 AND attempts < max_attempts
        RETURNING org_id, code_hash, generation, attempts, max_attempts`,
      [id, now, userId],
    );
    return rows[0] && takenOf(rows[0]);
  }

  /**
   * Verify-and-consume of the code, after `takeAttempt`: PENDING → VERIFIED at `now` only if the stored
   * hash is still `codeHash`; the attempt taken is given back (a right code costs none). A change that
   * does not apply when the row no longer qualifies, for EventStore.changeAndAppend.
   */
  verification(id: string, codeHash: string, now: number): SqlChange {
    return {
      sql: `UPDATE email_challenges SET status = 'VERIFIED', verified_at = $3, code_hash = NULL, attempts = attempts - 1
        WHERE id = $1 AND status = 'PENDING' AND code_hash = $2`,
      params: [id, codeHash, now],
    };
  }

  /**
   * `takeAttempt` for a batch of attempts (one per challenge), in the items' order. PostgreSQL: one
   * statement for all of them.
   */
  async takeAttempts(
    em: EntityManager,
    items: { id: string; userId: string; now: number }[],
  ): Promise<(TakenAttempt | undefined)[]> {
    if (dialectOf(em) !== 'postgres') {
      const taken: (TakenAttempt | undefined)[] = [];
      for (const a of items) taken.push(await this.takeAttempt(em, a.id, a.userId, a.now));
      return taken;
    }
    const valid = items.filter((a) => RANDOM_ID_PATTERN.test(a.id));
    const { rows } = await rawQuery<RawTaken & { id: string }>(
      em,
      `UPDATE email_challenges c SET attempts = c.attempts + 1
        FROM unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS b(id, user_id, at)
        WHERE c.id = b.id AND c.user_id = b.user_id AND c.status = 'PENDING' AND c.expires_at > b.at
          AND c.attempts < c.max_attempts
        RETURNING c.id, c.org_id, c.code_hash, c.generation, c.attempts, c.max_attempts`,
      [valid.map((a) => a.id), valid.map((a) => a.userId), valid.map((a) => a.now)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return items.map((a) => {
      const r = byId.get(a.id);
      return r && takenOf(r);
    });
  }

  /** `verification` for a batch of right codes (one per challenge), for EventStore.changeAndAppendEach. */
  verifications(em: EntityManager, items: { id: string; codeHash: string; now: number }[]): SqlChangeBatch {
    if (dialectOf(em) !== 'postgres')
      return { each: items.map((v) => this.verification(v.id, v.codeHash, v.now)) };
    return {
      postgres: {
        sql: `UPDATE email_challenges c SET status = 'VERIFIED', verified_at = b.at, code_hash = NULL,
            attempts = c.attempts - 1
          FROM unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS b(id, code_hash, at)
          WHERE c.id = b.id AND c.status = 'PENDING' AND c.code_hash = b.code_hash
          RETURNING c.id AS aggregate_id`,
        params: [items.map((v) => v.id), items.map((v) => v.codeHash), items.map((v) => v.now)],
      },
    };
  }

  /** A wrong code spent the last attempt: the challenge is locked and its code forgotten. */
  async lock(em: EntityManager, id: string): Promise<void> {
    await rawQuery(em, `UPDATE email_challenges SET status = 'LOCKED', code_hash = NULL WHERE id = $1`, [id]);
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
