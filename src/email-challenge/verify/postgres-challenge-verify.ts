import { EntityManager } from 'typeorm';
import { CodeHasher } from '../../common/crypto/code-hasher';
import { rawQuery } from '../../common/database/db-dialect';
import { TransactionBatcher } from '../../common/database/transaction-batcher';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import {
  ChallengeVerifyStrategy,
  judge,
  LOCK_SQL,
  TakenAttempt,
  takenOf,
  TakenRow,
  verifiedEvent,
  VerifyAttempt,
  VerifyOutcome,
  wrongCode,
} from './challenge-verify';

/** TAKE_ATTEMPT_SQL for a batch (one attempt per challenge). Params: arrays of id, user_id, now. */
const TAKE_ATTEMPTS_SQL = `UPDATE email_challenges c SET attempts = c.attempts + 1
   FROM unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS b(id, user_id, at)
   WHERE c.id = b.id AND c.user_id = b.user_id AND c.status = 'PENDING' AND c.expires_at > b.at
     AND c.attempts < c.max_attempts
   RETURNING c.id, c.org_id, c.code_hash, c.generation, c.attempts, c.max_attempts`;

/**
 * VERIFY_SQL for a batch of right codes, for EventStore.changeAndAppendEach (which appends each
 * verified challenge's event in the same statement). Params: arrays of id, code hash, now.
 */
const VERIFY_ALL_SQL = `UPDATE email_challenges c SET status = 'VERIFIED', verified_at = b.at, code_hash = NULL,
     attempts = c.attempts - 1
   FROM unnest($1::varchar[], $2::varchar[], $3::bigint[]) AS b(id, code_hash, at)
   WHERE c.id = b.id AND c.status = 'PENDING' AND c.code_hash = b.code_hash
   RETURNING c.id AS aggregate_id`;

/**
 * PostgreSQL: the verifies that arrive together share one transaction (TransactionBatcher): their
 * attempts are taken in one statement, the right codes verified with their events in one more; a
 * wrong code's events are written one by one. The attempts' rows stay locked until the commit, so a
 * burst of one code is judged one request after the other.
 */
export class PostgresChallengeVerify extends ChallengeVerifyStrategy {
  private readonly verifies: TransactionBatcher<VerifyAttempt, VerifyOutcome>;

  constructor(
    runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly hasher: CodeHasher,
  ) {
    super();
    this.verifies = runner.batched(
      (em, items) => this.verifyBatch(em, items),
      (a) => a.challengeId,
    );
  }

  verify(a: VerifyAttempt): Promise<VerifyOutcome> {
    return this.verifies.submit(a);
  }

  private async verifyBatch(em: EntityManager, items: VerifyAttempt[]): Promise<VerifyOutcome[]> {
    const { rows } = await rawQuery<TakenRow & { id: string }>(em, TAKE_ATTEMPTS_SQL, [
      items.map((a) => a.challengeId),
      items.map((a) => a.userId),
      items.map((a) => a.now),
    ]);
    const byId = new Map(rows.map((r) => [r.id, takenOf(r)]));
    const taken = items.map((a) => byId.get(a.challengeId));
    const matched = items.flatMap((a, i) => {
      const t = taken[i];
      return t && judge(this.hasher, a, t) === 'match' ? [{ i, a, t }] : [];
    });
    const verified = await this.events.changeAndAppendEach(
      em,
      {
        postgres: {
          sql: VERIFY_ALL_SQL,
          params: [
            matched.map(({ a }) => a.challengeId),
            matched.map(({ t }) => t.codeHash),
            matched.map(({ a }) => a.now),
          ],
        },
      },
      matched.map(({ a, t }) => verifiedEvent(a, t)),
    );
    const verdict = new Map(matched.map(({ i }, n) => [i, verified[n] !== undefined]));
    const outcomes: VerifyOutcome[] = [];
    for (const [i, a] of items.entries()) {
      const t = taken[i];
      if (!t) outcomes.push({ kind: 'refused' });
      // A right code whose challenge changed meanwhile: answered as a challenge that cannot be verified
      // any more; the attempt stays spent.
      else if (verdict.has(i))
        outcomes.push(verdict.get(i) ? { kind: 'verified', verifiedAt: a.now } : { kind: 'refused' });
      else outcomes.push(await this.wrong(em, a, t));
    }
    return outcomes;
  }

  private async wrong(em: EntityManager, a: VerifyAttempt, t: TakenAttempt): Promise<VerifyOutcome> {
    const wrong = wrongCode(a, t);
    if (wrong.locked) await rawQuery(em, LOCK_SQL, [a.challengeId]);
    for (const e of wrong.events) await this.events.append(em, e);
    return wrong.outcome;
  }
}
