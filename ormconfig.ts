import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/common/config/app-config';
import { buildDataSourceOptions } from './src/common/database/data-source';
import { SecretBox } from './src/common/crypto/secret-box';
import { withMigrationCrypto } from './src/common/database/migration-crypto';
import { MIGRATIONS } from './src/common/database/migrations';
import { ENTITIES } from './src/entities';

/** The data source the TypeORM CLI uses (`npm run migration:run|revert`), from the same env as the app. */
const { config } = loadConfig(process.env);
export default new DataSource(
  withMigrationCrypto(buildDataSourceOptions(config.database, ENTITIES, MIGRATIONS), new SecretBox(config)),
);
