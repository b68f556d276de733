// Lint: recommended JS + typescript-eslint rules; the core stays free of Node-only imports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scratch/**', '.bench-cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The PDQ core must run in browsers and workers (client-side hashing for E2EE apps).
    files: ['src/signals/**/*.ts', 'src/client/**/*.ts'],
    ignores: ['src/signals/**/*.test.ts', 'src/client/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'path', 'crypto', 'sharp', 'piscina'], message: 'signals/ and client/ are pure TypeScript: no Node-only imports.' }] }],
    },
  },
);
