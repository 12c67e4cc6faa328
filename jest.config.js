// One config, one project per test tier (STYLE.md 5.6). Tests are TypeScript,
// transpiled file by file by ts-jest (type-checking runs before jest, per
// package); @cim/* imports resolve through package exports to built dist/.
const transform = {
  '^.+\\.ts$': [
    'ts-jest',
    {
      useESM: true,
      diagnostics: false,
      tsconfig: '<rootDir>/tsconfig.base.json',
    },
  ],
};
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

export default {
  // Integration tests start real servers; no test asserts on timing.
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/{libs,services,tools,deploy}/*/test/**/*.unit.test.ts',
      ],
    },
    {
      ...common,
      displayName: 'int',
      testMatch: [
        '<rootDir>/{libs,services,tools,deploy}/*/test/**/*.int.test.ts',
      ],
    },
    {
      ...common,
      displayName: 'fleet',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
    },
  ],
};
