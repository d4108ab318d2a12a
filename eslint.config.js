// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.mailroom/**', 'coverage/**', 'dist/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', structuredClone: 'readonly', performance: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-throw-literal': 'error',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!xstate$|zod$|zod/|\\./|\\.\\./machines/).*', message: 'machines/ are pure: import only xstate, zod and types.' }] }],
    },
  },
  {
    // The workflow step is planned by pure code (record and event in, record and effects out);
    // the engine, the store and the runners do the I/O. `now` is an argument, never read.
    files: ['src/workflows/plan-step.ts', 'src/workflows/step-effects.ts', 'src/workflows/workflow-registry.ts', 'src/workflows/workflow-record.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(@nats-io/|(\\.\\./)+(src/)?(transport|runtime)(/|$))', message: 'The workflow planner is pure: no NATS, transport or runtime; the engine passes in what a step needs.' }] }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'The workflow planner is pure: take `now` as an argument.' },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'The workflow planner is pure: take `now` as an argument.' },
      ],
    },
  },
);
