import { CodeHasher } from '../../crypto/code-hasher';
import { dialectProvider } from '../../database/dialect-provider';
import { TransactionRunner } from '../../database/transaction-runner';
import { EventStore } from '../../events/event-store';
import { SqliteUnits } from '../../events/sqlite-units';
import { CodeCheckStrategy } from './code-check';
import { PostgresCodeCheck } from './postgres-code-check';
import { SqliteCodeCheck } from './sqlite-code-check';

/** The one-time code check of the configured database. */
export const CodeCheckProvider = dialectProvider(
  CodeCheckStrategy,
  [TransactionRunner, EventStore, CodeHasher],
  {
    sqlite: (ds, runner: TransactionRunner, events: EventStore, hasher: CodeHasher) =>
      new SqliteCodeCheck(new SqliteUnits(ds, runner, events), hasher),
    postgres: (_ds, runner: TransactionRunner, events: EventStore, hasher: CodeHasher) =>
      new PostgresCodeCheck(runner, events, hasher),
  },
);
