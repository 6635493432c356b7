import { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CodeHasher } from '../../common/crypto/code-hasher';
import { dialectOf } from '../../common/database/db-dialect';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { CodeUseStrategy } from './code-use';
import { PostgresCodeUse } from './postgres-code-use';
import { SqliteCodeUse } from './sqlite-code-use';

/** The OTP SMS code use of the configured database. */
export const CodeUseProvider: Provider = {
  provide: CodeUseStrategy,
  inject: [getDataSourceToken(), TransactionRunner, EventStore, CodeHasher],
  useFactory: (
    ds: DataSource,
    runner: TransactionRunner,
    events: EventStore,
    hasher: CodeHasher,
  ): CodeUseStrategy => {
    switch (dialectOf(ds)) {
      case 'sqlite':
        return new SqliteCodeUse(ds, runner, events, hasher);
      case 'postgres':
        return new PostgresCodeUse(runner, events, hasher);
    }
  },
};
