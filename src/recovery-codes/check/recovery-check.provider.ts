import { dialectProvider } from '../../common/database/dialect-provider';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { SqliteUnits } from '../../common/events/sqlite-units';
import { PostgresRecoveryCheck } from './postgres-recovery-check';
import { RecoveryCheckStrategy } from './recovery-check';
import { SqliteRecoveryCheck } from './sqlite-recovery-check';

/** The recovery code check of the configured database. */
export const RecoveryCheckProvider = dialectProvider(RecoveryCheckStrategy, [TransactionRunner, EventStore], {
  sqlite: (ds, runner: TransactionRunner, events: EventStore) =>
    new SqliteRecoveryCheck(new SqliteUnits(ds, runner, events)),
  postgres: (_ds, runner: TransactionRunner, events: EventStore) => new PostgresRecoveryCheck(runner, events),
});
