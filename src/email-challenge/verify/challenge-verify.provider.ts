import { CodeHasher } from '../../common/crypto/code-hasher';
import { dialectProvider } from '../../common/database/dialect-provider';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { SqliteUnits } from '../../common/events/sqlite-units';
import { ChallengeVerifyStrategy } from './challenge-verify';
import { PostgresChallengeVerify } from './postgres-challenge-verify';
import { SqliteChallengeVerify } from './sqlite-challenge-verify';

/** The challenge verify of the configured database. */
export const ChallengeVerifyProvider = dialectProvider(
  ChallengeVerifyStrategy,
  [TransactionRunner, EventStore, CodeHasher],
  {
    sqlite: (ds, runner: TransactionRunner, events: EventStore, hasher: CodeHasher) =>
      new SqliteChallengeVerify(new SqliteUnits(ds, runner, events), hasher),
    postgres: (_ds, runner: TransactionRunner, events: EventStore, hasher: CodeHasher) =>
      new PostgresChallengeVerify(runner, events, hasher),
  },
);
