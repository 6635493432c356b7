import { CodeHasher } from '../../common/crypto/code-hasher';
import { sqliteQuery } from '../../common/database/db-dialect';
import { SqliteUnits } from '../../common/events/sqlite-units';
import { AttemptVerdict } from '../../common/one-time-code/code-rules';
import {
  CodeFailure,
  CodeUse,
  CodeUseOutcome,
  CodeUseStrategy,
  consumeSql,
  failed,
  failedEvent,
  FIND_SQL,
  FoundRow,
  judge,
  refusal,
  stateFor,
  TAKE_ATTEMPT_SQL,
  takenOf,
  TakenRow,
  usedEvent,
} from './code-use';

/**
 * SQLite: a code use is one synchronous run of prepared statements on the driver, in its own
 * savepoint of a group commit (SqliteGroupCommit), as the TOTP `_check` is: the uses that arrive
 * together share one transaction and one sync to disk, and none pays for the ORM's transaction
 * machinery.
 */
export class SqliteCodeUse extends CodeUseStrategy {
  constructor(
    private readonly units: SqliteUnits,
    private readonly hasher: CodeHasher,
  ) {
    super();
  }

  use(u: CodeUse): Promise<CodeUseOutcome> {
    return this.units.run(() => this.useOne(u));
  }

  private useOne(u: CodeUse): CodeUseOutcome {
    const [row] = sqliteQuery<TakenRow>(this.units.db, TAKE_ATTEMPT_SQL, [
      u.otpSmsId,
      u.user.id,
      stateFor(u.purpose),
      u.now,
      u.maxAttempts,
    ]).rows;
    if (!row)
      return this.fail(
        u,
        refusal(u, sqliteQuery<FoundRow>(this.units.db, FIND_SQL, [u.otpSmsId, u.user.id]).rows[0]),
      );
    const taken = takenOf(row);
    const verdict = judge(this.hasher, u, taken);
    if (verdict !== 'match') return this.fail(u, 'invalid', verdict);
    if (
      sqliteQuery(this.units.db, consumeSql(u.purpose), [u.now, u.otpSmsId, taken.codeGeneration])
        .affected !== 1
    )
      return this.fail(u, 'noCode');
    return { kind: 'used', event: this.units.events.append(usedEvent(u), u.now) };
  }

  private fail(u: CodeUse, failure: CodeFailure, verdict?: AttemptVerdict): CodeUseOutcome {
    const e = failedEvent(u, failure);
    if (e) this.units.events.append(e, u.now);
    return failed(failure, verdict);
  }
}
