import { CodeHasher } from '../../crypto/code-hasher';
import { sqliteQuery } from '../../database/db-dialect';
import { SqliteUnits } from '../../events/sqlite-units';
import { AttemptVerdict } from '../code-rules';
import {
  CheckOutcome,
  CodeCheck,
  CodeCheckStrategy,
  CodeFailure,
  CONSUME_SQL,
  FACTOR_SQL,
  failure,
  FIND_SQL,
  FoundRow,
  judge,
  refusal,
  succeededEvent,
  takeAttemptParams,
  takeAttemptSql,
  takenOf,
  TakenRow,
} from './code-check';

/**
 * SQLite: a check is one synchronous run of prepared statements on the driver, in its own savepoint
 * of a group commit (SqliteGroupCommit), as the TOTP `_check` is: the checks that arrive together
 * share one transaction and one sync to disk, and none pays for the ORM's transaction machinery.
 */
export class SqliteCodeCheck extends CodeCheckStrategy {
  constructor(
    private readonly units: SqliteUnits,
    private readonly hasher: CodeHasher,
  ) {
    super();
  }

  check(c: CodeCheck): Promise<CheckOutcome> {
    return this.units.run(() => this.checkOne(c));
  }

  private checkOne(c: CodeCheck): CheckOutcome {
    const [row] = sqliteQuery<TakenRow>(this.units.db, takeAttemptSql(!!c.factor), takeAttemptParams(c)).rows;
    if (!row) {
      // the factor first (its error before the code's), then why the code took no attempt
      if (c.factor && !sqliteQuery(this.units.db, FACTOR_SQL, [c.subject.id, c.factor.channel]).rows.length)
        return { kind: 'refused', error: c.factor.notFound() };
      const [found] = sqliteQuery<FoundRow>(this.units.db, FIND_SQL, [c.purpose, c.subject.id]).rows;
      return this.fail(c, refusal(c, found));
    }
    const taken = takenOf(row);
    const verdict = judge(this.hasher, c, taken);
    if (verdict !== 'match') return this.fail(c, 'invalid', verdict);
    if (sqliteQuery(this.units.db, CONSUME_SQL, [c.purpose, c.subject.id, taken.codeId]).affected !== 1)
      return this.fail(c, 'noCode');
    return { kind: 'succeeded', event: this.units.events.append(succeededEvent(c), c.now) };
  }

  private fail(c: CodeCheck, reason: CodeFailure, verdict?: AttemptVerdict): CheckOutcome {
    const f = failure(c, reason, verdict);
    for (const e of f.events) this.units.events.append(e, c.now);
    return f.outcome;
  }
}
