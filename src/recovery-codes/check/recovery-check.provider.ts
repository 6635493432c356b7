import { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { dialectOf } from '../../common/database/db-dialect';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { PostgresRecoveryCheck } from './postgres-recovery-check';
import { RecoveryCheckStrategy } from './recovery-check';
import { SqliteRecoveryCheck } from './sqlite-recovery-check';

/** The recovery code check of the configured database. */
export const RecoveryCheckProvider: Provider = {
  provide: RecoveryCheckStrategy,
  inject: [getDataSourceToken(), TransactionRunner, EventStore],
  useFactory: (ds: DataSource, runner: TransactionRunner, events: EventStore): RecoveryCheckStrategy => {
    switch (dialectOf(ds)) {
      case 'sqlite':
        return new SqliteRecoveryCheck(ds, runner, events);
      case 'postgres':
        return new PostgresRecoveryCheck(runner, events);
    }
  },
};
