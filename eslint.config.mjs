import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Module boundaries: a feature module (every folder of FEATURES) imports
 * src/common/**, its own files and identity's public surface (src/identity/index.ts) – never another
 * feature's files. Its entities may reference identity's user entity (foreign keys). Identity
 * imports no feature.
 */
const FEATURES = [
  'totp',
  'otp-sms',
  'email-challenge',
  'otp-email',
  'recovery-codes',
  'auth-methods',
  'notifications',
];
const otherFeatures = (own) =>
  FEATURES.filter((f) => f !== own).map((f) => ({
    regex: `(^|\\.\\./)${f}(/|$)`,
    message: `A feature module does not import another feature (${f}); share through src/common.`,
  }));
const identityInternals = (allowUserEntity) => ({
  regex: `(^|\\.\\./)identity/(?!index$${allowUserEntity ? '|entities/user\\.entity$' : ''})`,
  message: "Import identity's public surface ('../identity'), not its files.",
});
const boundaries = FEATURES.flatMap((f) => [
  {
    files: [`src/${f}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...otherFeatures(f), identityInternals(false)] }],
    },
  },
  {
    files: [`src/${f}/entities/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...otherFeatures(f), identityInternals(true)] }],
    },
  },
]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      eqeqeq: ['error', 'always'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...boundaries,
  {
    files: ['src/identity/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: FEATURES.map((f) => ({
            regex: `(^|\\.\\./)${f}(/|$)`,
            message: 'Identity stands below the feature modules and imports none of them.',
          })),
        },
      ],
    },
  },
  {
    files: ['src/common/database/migrations/*.ts'],
    rules: { 'max-len': 'off' },
  },
);
