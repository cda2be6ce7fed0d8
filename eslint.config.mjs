// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

// The floors of src/ (docs/architecture.md, "Floors"): a folder imports only the
// folders listed for it, never one above it. Plugins (built-ins included) see only the
// plugin API.
const FLOORS = {
  common: [],
  // GATEWAY_WORKERS: the worker's side of the IPC channel; imports nothing of ours.
  cluster: [],
  plugins: ['cluster', 'common'],
  config: ['cluster', 'common', 'plugins'],
  redis: ['cluster', 'common', 'config'],
  logging: ['cluster', 'common', 'config'],
  metrics: ['cluster', 'common', 'config'],
  tracing: ['cluster', 'common', 'config'],
  'rate-limit': ['cluster', 'common', 'config', 'redis', 'logging', 'metrics'],
  oauth: ['cluster', 'common', 'config', 'redis', 'logging', 'metrics', 'rate-limit'],
  auth: ['cluster', 'common', 'config', 'redis', 'logging', 'metrics', 'rate-limit', 'oauth'],
  routing: ['cluster', 'common', 'config', 'plugins', 'redis', 'logging', 'metrics', 'tracing', 'rate-limit', 'oauth', 'auth'],
  health: ['cluster', 'common', 'config', 'redis', 'logging', 'metrics', 'rate-limit', 'routing'],
  admin: ['cluster', 'common', 'config', 'redis', 'logging', 'metrics', 'rate-limit', 'auth', 'routing'],
};
const floorRules = Object.entries(FLOORS).map(([folder, allowed]) => {
  const forbidden = Object.keys(FLOORS).filter((f) => f !== folder && !allowed.includes(f));
  return {
    files: [`src/${folder}/**/*.ts`],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
              message: `src/${folder} sits below that folder (eslint.config.mjs FLOORS).`,
            },
            {
              regex: '^(\\.\\./)+(app\\.module|gateway\\.module|gateway|main|primary|index)$',
              message: 'nothing in src/ imports the application entry points.',
            },
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'eslint.config.mjs', 'jest.config.js', 'scripts/run-built.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      'no-console': 'error',
    },
  },
  ...floorRules,
  {
    files: ['src/plugins/builtin/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!plugin-api$)',
              message: 'a built-in plugin uses only the plugin API, like any third-party plugin.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', 'bench/**/*.ts', 'demo/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
