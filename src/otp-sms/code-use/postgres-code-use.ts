import { EntityManager } from 'typeorm';
import { CodeHasher } from '../../common/crypto/code-hasher';
import { rawQuery } from '../../common/database/db-dialect';
import { TransactionBatcher } from '../../common/database/transaction-batcher';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import {
  CodeFailure,
  CodeUse,
  CodeUseOutcome,
  CodeUseStrategy,
  failed,
  failedEvent,
  FIND_SQL,
  FoundRow,
  judge,
  refusal,
  stateFor,
  takenOf,
  TakenRow,
  usedEvent,
} from './code-use';

/** TAKE_ATTEMPT_SQL for a batch (one attempt per authenticator). Params: arrays of id, user_id, state, now, max. */
const TAKE_ATTEMPTS_SQL = `UPDATE otp_sms_authenticators a SET code_attempts = a.code_attempts + 1
   FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::bigint[], $5::int[])
     AS b(id, user_id, state, at, max_attempts)
   WHERE a.id = b.id AND a.user_id = b.user_id AND a.state = b.state AND a.code_hash IS NOT NULL
     AND a.code_expires_at >= b.at AND a.code_attempts < b.max_attempts
   RETURNING a.id, a.code_hash, a.code_generation, a.code_attempts`;

/**
 * consumeSql for a batch of right codes, for EventStore.changeAndAppendEach (which appends each used
 * code's event in the same statement; the event's aggregate is the authenticator's user). Params:
 * arrays of id, generation, now, whether the authenticator becomes ready.
 */
const CONSUME_ALL_SQL = `UPDATE otp_sms_authenticators a
   SET code_hash = NULL, code_expires_at = NULL, code_attempts = 0, changed_at = b.at,
     state = CASE WHEN b.mark_ready THEN 'READY' ELSE a.state END
   FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::boolean[]) AS b(id, generation, at, mark_ready)
   WHERE a.id = b.id AND a.code_generation = b.generation AND a.code_hash IS NOT NULL
   RETURNING a.user_id AS aggregate_id`;

/**
 * PostgreSQL: the uses that arrive together (one per user) share one transaction
 * (TransactionBatcher): their attempts are taken in one statement, the right codes used up with their
 * events in one more; a failure is read and recorded one by one.
 */
export class PostgresCodeUse extends CodeUseStrategy {
  private readonly uses: TransactionBatcher<CodeUse, CodeUseOutcome>;

  constructor(
    runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly hasher: CodeHasher,
  ) {
    super();
    this.uses = runner.batched(
      (em, items) => this.useBatch(em, items),
      (u) => u.user.id,
    );
  }

  use(u: CodeUse): Promise<CodeUseOutcome> {
    return this.uses.submit(u);
  }

  private async useBatch(em: EntityManager, items: CodeUse[]): Promise<CodeUseOutcome[]> {
    const { rows } = await rawQuery<TakenRow & { id: string }>(em, TAKE_ATTEMPTS_SQL, [
      items.map((u) => u.otpSmsId),
      items.map((u) => u.user.id),
      items.map((u) => stateFor(u.purpose)),
      items.map((u) => u.now),
      items.map((u) => u.maxAttempts),
    ]);
    const byId = new Map(rows.map((r) => [r.id, takenOf(r)]));
    const taken = items.map((u) => byId.get(u.otpSmsId));
    const verdicts = items.map((u, i) => taken[i] && judge(this.hasher, u, taken[i]));
    const matched = items.flatMap((u, i) => (verdicts[i] === 'match' ? [{ i, u, t: taken[i]! }] : []));
    const used = await this.events.changeAndAppendEach(
      em,
      {
        postgres: {
          sql: CONSUME_ALL_SQL,
          params: [
            matched.map(({ u }) => u.otpSmsId),
            matched.map(({ t }) => t.codeGeneration),
            matched.map(({ u }) => u.now),
            matched.map(({ u }) => u.purpose === 'registration'),
          ],
        },
      },
      matched.map(({ u }) => usedEvent(u)),
    );
    const usedAt = new Map(matched.map(({ i }, n) => [i, used[n]]));
    const outcomes: CodeUseOutcome[] = [];
    for (const [i, u] of items.entries()) {
      const event = usedAt.get(i);
      if (event) {
        outcomes.push({ kind: 'used', event });
        continue;
      }
      let failure: CodeFailure;
      if (!taken[i]) {
        const { rows: found } = await rawQuery<FoundRow>(em, FIND_SQL, [u.otpSmsId, u.user.id]);
        failure = refusal(u, found[0]);
      } else failure = usedAt.has(i) ? 'noCode' : 'invalid';
      const e = failedEvent(u, failure);
      if (e) await this.events.append(em, e);
      outcomes.push(failed(failure, verdicts[i]));
    }
    return outcomes;
  }
}
