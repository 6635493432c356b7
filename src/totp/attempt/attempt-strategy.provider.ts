import { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SecretBox } from '../../common/crypto/secret-box';
import { dialectOf } from '../../common/database/db-dialect';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { AttemptStrategy } from './attempt.strategy';
import { PostgresAttemptStrategy } from './postgres-attempt.strategy';
import { SqliteAttemptStrategy } from './sqlite-attempt.strategy';

/** The attempt strategy of the configured database. */
export function createAttemptStrategy(
  ds: DataSource,
  runner: TransactionRunner,
  events: EventStore,
  box: SecretBox,
): AttemptStrategy {
  switch (dialectOf(ds)) {
    case 'sqlite':
      return new SqliteAttemptStrategy(ds, runner, events, box);
    case 'postgres':
      return new PostgresAttemptStrategy(ds, runner, events, box);
  }
}

export const AttemptStrategyProvider: Provider = {
  provide: AttemptStrategy,
  inject: [getDataSourceToken(), TransactionRunner, EventStore, SecretBox],
  useFactory: createAttemptStrategy,
};
