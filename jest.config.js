/**
 * Projects: unit specs beside the code; e2e specs in test/ against SQLite, and again against
 * PostgreSQL when TEST_DATABASE_URL names a server (CI sets it), each test file in its own schema.
 */
const base = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    // otplib's default plugins depend on ESM-only packages (@scure/base, @noble/hashes): compile them to CommonJS.
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
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    e2e('e2e-sqlite', 'sqlite'),
    ...(process.env.TEST_DATABASE_URL ? [e2e('e2e-postgres', 'postgres')] : []),
  ],
};
