// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layering rules: lower layers never import higher ones. Each entry lists the folders a module may not reach.
const layers = {
  lib: [
    'binlog',
    'source',
    'capture',
    'store',
    'objects',
    'backup',
    'recovery',
    'scheduler',
    'server',
    'cli',
    'app',
  ],
  binlog: [
    'source',
    'capture',
    'store',
    'objects',
    'backup',
    'recovery',
    'scheduler',
    'server',
    'cli',
    'log',
    'app',
  ],
  source: ['capture', 'store', 'objects', 'backup', 'recovery', 'scheduler', 'server', 'cli', 'app'],
  capture: ['server', 'cli', 'scheduler', 'app', 'archive'],
  archive: ['recovery', 'scheduler', 'server', 'cli', 'app'],
  store: ['capture', 'backup', 'recovery', 'scheduler', 'server', 'cli', 'app'],
  objects: [
    'binlog',
    'source',
    'capture',
    'store',
    'backup',
    'recovery',
    'scheduler',
    'server',
    'cli',
    'app',
  ],
  backup: ['capture', 'recovery', 'scheduler', 'server', 'cli', 'app'],
  recovery: ['server', 'cli', 'scheduler', 'app'],
  recover: ['server', 'cli', 'scheduler', 'app'],
  restore: ['server', 'cli', 'scheduler', 'app'],
  drift: ['server', 'cli', 'scheduler', 'app'],
  scheduler: ['server', 'cli', 'app'],
  compliance: ['server', 'cli', 'app'],
  server: ['cli'],
  config: [
    'binlog',
    'source',
    'capture',
    'store',
    'objects',
    'backup',
    'recovery',
    'scheduler',
    'server',
    'cli',
    'app',
  ],
  log: [
    'binlog',
    'source',
    'capture',
    'store',
    'objects',
    'backup',
    'recovery',
    'scheduler',
    'server',
    'cli',
    'app',
  ],
};

const layerConfigs = Object.entries(layers).map(([layer, forbidden]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((f) => ({
          group: f === 'app' ? ['**/app.js'] : [`**/${f}/*`],
          message: `src/${layer} must not depend on src/${f} (see the layering in STYLE)`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**', 'src/server/assets/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'src/**/*.test.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    // The dashboard's browser modules, served as they are (no build step): linted as plain JavaScript.
    files: ['src/server/dashboard/assets/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: false, program: null, project: false },
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'sessionStorage',
          'fetch',
          'URLSearchParams',
          'CSS',
          'Node',
          'setTimeout',
          'clearTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  ...layerConfigs,
);
