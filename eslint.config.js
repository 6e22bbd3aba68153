// Typed lint (GUIDE.md convention 7): every TypeScript file in src/, web/, test/ and bench/ is
// linted with type information (typescript-eslint's project service finds the nearest tsconfig:
// tsconfig.json for src/test/bench, web/tsconfig.json for the dashboard).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'test-artifacts/**', 'data/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          // Config files that no tsconfig includes (web/tsconfig.json excludes its vite config).
          allowDefaultProject: ['eslint.config.js', 'web/vite.config.ts'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The point of this linter: errors everywhere, never relaxed below.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        // A `default` does not make a switch on a union exhaustive: a new member must be handled
        // (or listed) at every switch on it. Switches on plain strings (error codes) need no default.
        { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false },
      ],
      // `_name` marks a parameter or binding kept on purpose (a callback's signature, a rest-sibling
      // omit such as `const { secret: _s, ...rest } = row`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Off: `async` on a method with no `await` is how this codebase keeps an interface's
      // implementations uniform (a repository, an embedder, a route handler) and turns a throw into a
      // rejection; removing it changes behaviour (sync throw vs rejected promise) for no safety gain.
      '@typescript-eslint/require-await': 'off',
      // Off: every control-character regex here is deliberate (sanitisers that strip or reject
      // \x00-\x1f from text, names and SVG); the rule only guards against typing one by accident.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests, fixtures and benchmarks read JSON bodies, WebSocket frames and vendor output as `any`
    // on purpose and poke at them (`body.data[0].id`); typing each probe would be hundreds of
    // mechanical casts with no safety value. The promise and switch rules above still apply here.
    files: ['test/**', 'bench/**', '**/*.test.ts', 'vitest.config.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The dashboard reads the pool's zod contracts as types only: a value import would bundle zod
    // (and whatever else src/ pulls in) into the browser.
    files: ['web/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src/**'], allowTypeImports: true, message: 'web/ imports src/ types only (import type): values would land in the browser bundle.' }] },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
