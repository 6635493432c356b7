import { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CodeHasher } from '../../crypto/code-hasher';
import { dialectOf } from '../../database/db-dialect';
import { TransactionRunner } from '../../database/transaction-runner';
import { EventStore } from '../../events/event-store';
import { CodeCheckStrategy } from './code-check';
import { PostgresCodeCheck } from './postgres-code-check';
import { SqliteCodeCheck } from './sqlite-code-check';

/** The one-time code check of the configured database. */
export const CodeCheckProvider: Provider = {
  provide: CodeCheckStrategy,
  inject: [getDataSourceToken(), TransactionRunner, EventStore, CodeHasher],
  useFactory: (
    ds: DataSource,
    runner: TransactionRunner,
    events: EventStore,
    hasher: CodeHasher,
  ): CodeCheckStrategy => {
    switch (dialectOf(ds)) {
      case 'sqlite':
        return new SqliteCodeCheck(ds, runner, events, hasher);
      case 'postgres':
        return new PostgresCodeCheck(runner, events, hasher);
    }
  },
};
