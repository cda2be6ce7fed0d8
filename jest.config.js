/** @type {import('jest').Config} */
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  // Tiers: unit (src/**/*.spec.ts), medium (the module graph without a server), static (the
  // shipped files: deploy/, monitoring/), e2e (the real gateway and real backends).
  testMatch: [
    '<rootDir>/src/**/*.spec.ts',
    '<rootDir>/test/medium/**/*.medium-spec.ts',
    '<rootDir>/test/static/**/*.static-spec.ts',
    '<rootDir>/test/**/*.e2e-spec.ts',
  ],
  // The examples import the package by name, as an application would.
  moduleNameMapper: { '^nest-api-gateway$': '<rootDir>/src/index.ts' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  collectCoverage: true,
  collectCoverageFrom: ['src/**/*.ts', '!src/**/*.spec.ts', '!src/main.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: { global: { lines: 80, branches: 80 } },
  testTimeout: 20000,
};
