// ESLint (flat config) with typescript-eslint's type-aware rules over all TypeScript; formatting
// is prettier's (package.json "prettier"), so no stylistic rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'proto/gen/', 'node_modules/', 'test-artifacts/', '**/*.mjs', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Numbers and booleans in messages are fine; objects are not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `void promise` marks a deliberately detached promise.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      // An async function without await is how a sync body meets a Promise-returning contract
      // (language detectors, limit backends, RPC handlers); it also turns throws into rejections.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read JSON the CLI printed and use vitest's asymmetric matchers (typed any) inside
    // expectations; the code under test may do neither.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
