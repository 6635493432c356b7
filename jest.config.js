/**
 * Projects: unit specs beside the code; e2e specs in test/ against SQLite (on the Express and on the
 * Fastify adapter), and again against PostgreSQL when TEST_DATABASE_URL names a server (CI sets it),
 * each test file in its own schema.
 */
const base = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    // ESM-only dependencies (otplib's @scure/base and @noble/hashes) are compiled to CommonJS; Node
    // itself loads them with require(esm).
    '^.+\\.js$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@scure/base|@noble/hashes)/)'],
  rootDir: __dirname,
};
const e2e = (name, db) => ({
  ...base,
  displayName: name,
  testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
  setupFiles: [`<rootDir>/test/setup/${db}.js`],
});
module.exports = {
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  maxWorkers: process.env.JEST_WORKERS || 2,
  projects: [
    // Unit specs beside the code, plus checks of the project itself (its scripts) in test/*.spec.ts.
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/*.spec.ts'] },
    e2e('e2e-sqlite', 'sqlite'),
    // The same suites on the Fastify adapter (HTTP_ADAPTER=fastify), on SQLite.
    e2e('e2e-fastify', 'sqlite-fastify'),
    ...(process.env.TEST_DATABASE_URL ? [e2e('e2e-postgres', 'postgres')] : []),
  ],
};
