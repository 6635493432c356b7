import { sqliteQuery } from '../../common/database/db-dialect';
import { SqliteUnits } from '../../common/events/sqlite-units';
import {
  CheckOutcome,
  CodeCheck,
  FIND_SET_SQL,
  RecoveryCheckStrategy,
  SetRow,
  refusal,
  REFUND_SQL,
  remainingAfter,
  TAKE_ATTEMPT_SQL,
  takenOf,
  TakenRow,
  useCodeSql,
  usedEvent,
  wrongCode,
} from './recovery-check';

/**
 * SQLite: a check is one synchronous run of prepared statements on the driver, in its own savepoint
 * of a group commit (SqliteGroupCommit), as the TOTP `_check` is: the checks that arrive together
 * share one transaction and one sync to disk, and no check pays for the ORM's transaction machinery.
 */
export class SqliteRecoveryCheck extends RecoveryCheckStrategy {
  constructor(private readonly units: SqliteUnits) {
    super();
  }

  check(c: CodeCheck): Promise<CheckOutcome> {
    return this.units.run(() => this.checkOne(c));
  }

  private checkOne(c: CodeCheck): CheckOutcome {
    const [row] = sqliteQuery<TakenRow>(this.units.db, TAKE_ATTEMPT_SQL, [
      c.userId,
      c.now - c.windowMs,
      c.now,
      c.maxAttempts,
    ]).rows;
    if (!row) return refusal(c, sqliteQuery<SetRow>(this.units.db, FIND_SET_SQL, [c.userId]).rows[0]);
    const taken = takenOf(row);
    if (sqliteQuery(this.units.db, useCodeSql(c.hashes.length), [c.userId, ...c.hashes]).affected === 1) {
      sqliteQuery(this.units.db, REFUND_SQL, [c.userId, taken.windowStartedAt]);
      const event = this.units.events.append(usedEvent(c, taken), c.now);
      return { kind: 'used', event, remaining: remainingAfter(taken) };
    }
    const wrong = wrongCode(c, taken);
    for (const e of wrong.events) this.units.events.append(e, c.now);
    return { kind: 'wrong', locked: wrong.locked };
  }
}
