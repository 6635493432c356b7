import { EntityManager } from 'typeorm';
import { CodeHasher } from '../../crypto/code-hasher';
import { rawQuery } from '../../database/db-dialect';
import { TransactionBatcher } from '../../database/transaction-batcher';
import { TransactionRunner } from '../../database/transaction-runner';
import { EventStore } from '../../events/event-store';
import {
  CheckOutcome,
  CodeCheck,
  CodeCheckStrategy,
  CodeFailure,
  FACTOR_SQL,
  failure,
  FIND_SQL,
  FoundRow,
  judge,
  refusal,
  succeededEvent,
  takenOf,
  TakenRow,
} from './code-check';

/** takeAttemptSql for a batch (one attempt per user). Params: arrays of purpose, user_id, now, max, channel. */
const TAKE_ATTEMPTS_SQL = `UPDATE one_time_codes c SET attempts = c.attempts + 1
   FROM unnest($1::varchar[], $2::varchar[], $3::bigint[], $4::int[], $5::varchar[])
     AS b(purpose, user_id, at, max_attempts, channel)
   WHERE c.purpose = b.purpose AND c.user_id = b.user_id AND c.code_hash IS NOT NULL AND c.expires_at >= b.at
     AND c.attempts < b.max_attempts
     AND (b.channel IS NULL
       OR EXISTS (SELECT 1 FROM otp_channel_factors f WHERE f.user_id = b.user_id AND f.channel = b.channel))
   RETURNING c.user_id, c.code_id, c.code_hash, c.attempts`;

/**
 * CONSUME_SQL for a batch of right codes, for EventStore.changeAndAppendEach (which appends each
 * check's event in the same statement). Params: arrays of purpose, user_id, code_id.
 */
const CONSUME_ALL_SQL = `UPDATE one_time_codes c SET code_hash = NULL
   FROM unnest($1::varchar[], $2::varchar[], $3::varchar[]) AS b(purpose, user_id, code_id)
   WHERE c.purpose = b.purpose AND c.user_id = b.user_id AND c.code_id = b.code_id AND c.code_hash IS NOT NULL
   RETURNING c.user_id AS aggregate_id`;

/**
 * PostgreSQL: the checks that arrive together (one per user) share one transaction
 * (TransactionBatcher): their attempts are taken in one statement, the right codes used up with their
 * events in one more; a failure is read and recorded one by one.
 */
export class PostgresCodeCheck extends CodeCheckStrategy {
  private readonly checks: TransactionBatcher<CodeCheck, CheckOutcome>;

  constructor(
    runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly hasher: CodeHasher,
  ) {
    super();
    this.checks = runner.batched(
      (em, items) => this.checkBatch(em, items),
      (c) => c.subject.id,
    );
  }

  check(c: CodeCheck): Promise<CheckOutcome> {
    return this.checks.submit(c);
  }

  private async checkBatch(em: EntityManager, items: CodeCheck[]): Promise<CheckOutcome[]> {
    const { rows } = await rawQuery<TakenRow & { user_id: string }>(em, TAKE_ATTEMPTS_SQL, [
      items.map((c) => c.purpose),
      items.map((c) => c.subject.id),
      items.map((c) => c.now),
      items.map((c) => c.maxAttempts),
      items.map((c) => c.factor?.channel ?? null),
    ]);
    const byUser = new Map(rows.map((r) => [r.user_id, takenOf(r)]));
    const taken = items.map((c) => byUser.get(c.subject.id));
    const verdicts = items.map((c, i) => taken[i] && judge(this.hasher, c, taken[i]));
    const matched = items.flatMap((c, i) => (verdicts[i] === 'match' ? [{ i, c, t: taken[i]! }] : []));
    const succeeded = await this.events.changeAndAppendEach(
      em,
      {
        postgres: {
          sql: CONSUME_ALL_SQL,
          params: [
            matched.map(({ c }) => c.purpose),
            matched.map(({ c }) => c.subject.id),
            matched.map(({ t }) => t.codeId),
          ],
        },
      },
      matched.map(({ c }) => succeededEvent(c)),
    );
    const succeededAt = new Map(matched.map(({ i }, n) => [i, succeeded[n]]));
    const outcomes: CheckOutcome[] = [];
    for (const [i, c] of items.entries()) {
      const event = succeededAt.get(i);
      if (event) {
        outcomes.push({ kind: 'succeeded', event });
        continue;
      }
      let reason: CodeFailure;
      if (!taken[i]) {
        // the factor first (its error before the code's), then why the code took no attempt
        if (c.factor && !(await rawQuery(em, FACTOR_SQL, [c.subject.id, c.factor.channel])).rows.length) {
          outcomes.push({ kind: 'refused', error: c.factor.notFound() });
          continue;
        }
        const { rows: found } = await rawQuery<FoundRow>(em, FIND_SQL, [c.purpose, c.subject.id]);
        reason = refusal(c, found[0]);
      } else reason = succeededAt.has(i) ? 'noCode' : 'invalid';
      const f = failure(c, reason, verdicts[i]);
      for (const e of f.events) await this.events.append(em, e);
      outcomes.push(f.outcome);
    }
    return outcomes;
  }
}
