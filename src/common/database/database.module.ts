import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions, openDatabase } from './data-source';
import { MIGRATIONS } from './migrations';
import { TransactionRunner } from './transaction-runner';
import { withMigrationCrypto } from './migration-crypto';
import { SecretBox } from '../crypto/secret-box';

/**
 * The TypeORM connection: SQLite (embedded default) or PostgreSQL, migrated at start-up. AppModule
 * names the entities (src/entities.ts), so this kernel depends on no feature. Global, like the
 * configuration: configured once at the root, used by every repository.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(entities: Parameters<typeof buildDataSourceOptions>[1]): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) =>
            withMigrationCrypto(
              buildDataSourceOptions(config.database, entities, MIGRATIONS),
              new SecretBox(config),
            ),
          dataSourceFactory: async (options?: DataSourceOptions) => openDatabase(options!),
        }),
      ],
      providers: [TransactionRunner],
      exports: [TransactionRunner],
    };
  }
}
