import { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CodeHasher } from '../../common/crypto/code-hasher';
import { dialectOf } from '../../common/database/db-dialect';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { ChallengeVerifyStrategy } from './challenge-verify';
import { PostgresChallengeVerify } from './postgres-challenge-verify';
import { SqliteChallengeVerify } from './sqlite-challenge-verify';

/** The challenge verify of the configured database. */
export const ChallengeVerifyProvider: Provider = {
  provide: ChallengeVerifyStrategy,
  inject: [getDataSourceToken(), TransactionRunner, EventStore, CodeHasher],
  useFactory: (
    ds: DataSource,
    runner: TransactionRunner,
    events: EventStore,
    hasher: CodeHasher,
  ): ChallengeVerifyStrategy => {
    switch (dialectOf(ds)) {
      case 'sqlite':
        return new SqliteChallengeVerify(ds, runner, events, hasher);
      case 'postgres':
        return new PostgresChallengeVerify(runner, events, hasher);
    }
  },
};
