import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const domainPurity = {
  // Deciders are pure (STYLE.md 5.4): no I/O modules and no clocks, timers or randomness.
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: [
            'node:*',
            '@nats-io/*',
            '@grpc/*',
            'pino',
            'prom-client',
            '@opentelemetry/*',
          ],
          message: 'domain code is pure: no I/O',
        },
        {
          group: [
            '@cim/eventstore',
            '@cim/messaging',
            '@cim/grpc',
            '@cim/observability',
            '@cim/service',
          ],
          message: 'domain code depends on @cim/kernel and @cim/proto only',
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    {
      name: 'Date',
      message: 'time comes in through the command or commit metadata',
    },
    { name: 'setTimeout', message: 'domain code is pure' },
    { name: 'setInterval', message: 'domain code is pure' },
    { name: 'crypto', message: 'ids come in through the command' },
    { name: 'process', message: 'domain code is pure' },
  ],
  'no-restricted-properties': [
    'error',
    {
      object: 'Math',
      property: 'random',
      message: 'domain code is deterministic',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'libs/proto/src/gen/**',
      '.tools/**',
      '.data/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports' },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'none',
        },
      ],
    },
  },
  { files: ['services/*/src/domain/**/*.ts'], rules: domainPurity },
  {
    // Plain JavaScript (scripts, configs) is not part of any TypeScript project.
    files: ['**/*.{js,mjs,cjs}'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
  {
    // Tests may assert loosely on shapes they just built.
    files: ['**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // Async generators stand in for streams in tests, awaiting nothing.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
