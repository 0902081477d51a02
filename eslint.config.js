// eslint flat config: typescript-eslint's recommended rules on every TypeScript file; formatting is prettier's job.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '.tools/**', '.native*/**', '**/results/**', 'coverage/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only', message: 'A focused test skips the rest of the suite.' },
        { object: 'it', property: 'only', message: 'A focused test skips the rest of the suite.' },
        { object: 'test', property: 'only', message: 'A focused test skips the rest of the suite.' },
      ],
    },
  },
  {
    // k6 scripts run in k6's JavaScript runtime, not Node.
    files: ['load-tests/**/*.js'],
    languageOptions: { globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', open: 'readonly' } },
  },
);
