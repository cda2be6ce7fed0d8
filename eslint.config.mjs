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
  plugins: ['common'],
  config: ['common', 'plugins'],
  redis: ['common', 'config'],
  logging: ['common', 'config'],
  metrics: ['common', 'config'],
  tracing: ['common', 'config'],
  'rate-limit': ['common', 'config', 'redis', 'logging', 'metrics'],
  oauth: ['common', 'config', 'redis', 'logging', 'metrics', 'rate-limit'],
  auth: ['common', 'config', 'redis', 'logging', 'metrics', 'rate-limit', 'oauth'],
  routing: ['common', 'config', 'plugins', 'redis', 'logging', 'metrics', 'tracing', 'rate-limit', 'oauth', 'auth'],
  health: ['common', 'config', 'redis', 'logging', 'metrics', 'rate-limit', 'routing'],
  admin: ['common', 'config', 'redis', 'logging', 'metrics', 'rate-limit', 'auth', 'routing'],
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
              regex: '^(\\.\\./)+(app\\.module|gateway\\.module|gateway|main|index)$',
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
