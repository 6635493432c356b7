import { SecretBox } from '../../common/crypto/secret-box';
import { dialectProvider } from '../../common/database/dialect-provider';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { AttemptStrategy } from './attempt.strategy';
import { PostgresAttemptStrategy } from './postgres-attempt.strategy';
import { SqliteAttemptStrategy } from './sqlite-attempt.strategy';

/** The attempt strategy of the configured database. */
export const AttemptStrategyProvider = dialectProvider(
  AttemptStrategy,
  [TransactionRunner, EventStore, SecretBox],
  {
    sqlite: (ds, runner: TransactionRunner, events: EventStore, box: SecretBox) =>
      new SqliteAttemptStrategy(ds, runner, events, box),
    postgres: (ds, runner: TransactionRunner, events: EventStore, box: SecretBox) =>
      new PostgresAttemptStrategy(ds, runner, events, box),
  },
);
