import { CodeHasher } from '../../common/crypto/code-hasher';
import { dialectProvider } from '../../common/database/dialect-provider';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { SqliteUnits } from '../../common/events/sqlite-units';
import { CodeUseStrategy } from './code-use';
import { PostgresCodeUse } from './postgres-code-use';
import { SqliteCodeUse } from './sqlite-code-use';

/** The OTP SMS code use of the configured database. */
export const CodeUseProvider = dialectProvider(CodeUseStrategy, [TransactionRunner, EventStore, CodeHasher], {
  sqlite: (ds, runner: TransactionRunner, events: EventStore, hasher: CodeHasher) =>
    new SqliteCodeUse(new SqliteUnits(ds, runner, events), hasher),
  postgres: (_ds, runner: TransactionRunner, events: EventStore, hasher: CodeHasher) =>
    new PostgresCodeUse(runner, events, hasher),
});
