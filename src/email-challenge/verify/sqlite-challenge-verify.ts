import { CodeHasher } from '../../common/crypto/code-hasher';
import { sqliteQuery } from '../../common/database/db-dialect';
import { SqliteUnits } from '../../common/events/sqlite-units';
import {
  ChallengeVerifyStrategy,
  judge,
  LOCK_SQL,
  TAKE_ATTEMPT_SQL,
  takenOf,
  TakenRow,
  verifiedEvent,
  VERIFY_SQL,
  VerifyAttempt,
  VerifyOutcome,
  wrongCode,
} from './challenge-verify';

/**
 * SQLite: a verify is one synchronous run of prepared statements on the driver, in its own savepoint
 * of a group commit (SqliteGroupCommit), as the TOTP `_check` is: the verifies that arrive together
 * share one transaction and one sync to disk, and none pays for the ORM's transaction machinery.
 */
export class SqliteChallengeVerify extends ChallengeVerifyStrategy {
  constructor(
    private readonly units: SqliteUnits,
    private readonly hasher: CodeHasher,
  ) {
    super();
  }

  verify(a: VerifyAttempt): Promise<VerifyOutcome> {
    return this.units.run(() => this.verifyOne(a));
  }

  private verifyOne(a: VerifyAttempt): VerifyOutcome {
    const [row] = sqliteQuery<TakenRow>(this.units.db, TAKE_ATTEMPT_SQL, [
      a.challengeId,
      a.now,
      a.userId,
    ]).rows;
    if (!row) return { kind: 'refused' };
    const taken = takenOf(row);
    if (judge(this.hasher, a, taken) === 'match') {
      if (sqliteQuery(this.units.db, VERIFY_SQL, [a.challengeId, taken.codeHash, a.now]).affected !== 1)
        return { kind: 'refused' };
      this.units.events.append(verifiedEvent(a, taken), a.now);
      return { kind: 'verified', verifiedAt: a.now };
    }
    const wrong = wrongCode(a, taken);
    if (wrong.locked) sqliteQuery(this.units.db, LOCK_SQL, [a.challengeId]);
    for (const e of wrong.events) this.units.events.append(e, a.now);
    return wrong.outcome;
  }
}
