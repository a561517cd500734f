import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DbtrailError, type ErrorKind } from '../lib/errors.js';
import type { CommandEntry, CommandSpec } from './command.js';
import { EXIT_CODES, exitCodeFor } from './exit-codes.js';
import { runCli } from './run.js';
import { COMMANDS } from './commands/index.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, {
    env: { DBTRAIL_HOME: mkdtempSync(join(tmpdir(), 'dbtrail-cli-')), ...env },
    stdout,
    stderr,
  });
  return { code, stdout: out, stderr: err };
}

describe('the command table', () => {
  it('matches every command module it loads, and loads each lazily', async () => {
    for (const entry of COMMANDS) {
      if (entry.path[0] === '__probe') continue;
      const spec = await entry.load();
      expect(spec.path).toEqual(entry.path);
      expect(spec.summary).toBe(entry.summary);
    }
    const paths = COMMANDS.map((c) => c.path.join(' '));
    expect(new Set(paths).size).toBe(paths.length);
  });
});

describe('exit codes', () => {
  it('gives every error kind its own stable code', () => {
    const codes = Object.values(EXIT_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    expect(exitCodeFor('check_failed')).toBe(1);
    expect(exitCodeFor('usage')).toBe(2);
    expect(exitCodeFor('internal')).toBe(70);
  });
});

describe('runCli', () => {
  // A throwaway command to drive the error edge with each kind of error.
  const probe: CommandSpec = {
    path: ['__probe'],
    summary: 'test only',
    flags: [{ name: 'kind', type: 'string', value: 'KIND', description: 'kind' }],
    run(_ctx, args) {
      const kind = args.flags['kind'];
      if (kind === 'crash') throw new TypeError('boom');
      throw new DbtrailError('PROBE', kind as ErrorKind, `Cannot probe: kind ${String(kind)}`);
    },
  };
  (COMMANDS as CommandEntry[]).push({
    path: probe.path,
    summary: probe.summary,
    load: () => Promise.resolve(probe),
  });

  it.each(Object.keys(EXIT_CODES).filter((k) => k !== 'internal'))(
    'maps a %s error to its exit code with one line and no stack',
    async (kind) => {
      const r = await run(['__probe', '--kind', kind]);
      expect(r.code).toBe(EXIT_CODES[kind as ErrorKind]);
      expect(r.stderr).toBe(`dbtrail: Cannot probe: kind ${kind}\n`);
    },
  );

  it('prints the stack for an unexpected error and exits 70', async () => {
    const r = await run(['__probe', '--kind', 'crash']);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/unexpected error/);
    expect(r.stderr).toMatch(/TypeError: boom\n\s+at /);
  });

  it('rejects unknown commands and flags, malformed values and missing required flags as usage errors', async () => {
    expect(await run(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: 'dbtrail: Cannot run "dbtrail frobnicate": unknown command (see dbtrail --help)\n',
    });
    const unknownFlag = await run(['doctor', '--jsonn']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toBe(
      'dbtrail: Cannot parse dbtrail doctor: unknown flag "--jsonn" (did you mean --json?)\n',
    );
    const badChoice = await run(['doctor', '--log-level', 'loud']);
    expect(badChoice.code).toBe(2);
    expect(badChoice.stderr).toMatch(
      /flag --log-level must be one of trace, debug, info, warn, error, silent, got "loud"/,
    );
    const missingValue = await run(['doctor', '--dsn']);
    expect(missingValue.stderr).toMatch(/flag --dsn needs a value \(URL\)/);
  });

  it('reports a missing DSN and a bad config as config/input errors', async () => {
    expect((await run(['doctor'])).stderr).toMatch(/no DSN given/);
    const badEnv = await run(['config', 'show'], { DBTRAIL_LOG_FORMAT: 'xml' });
    expect(badEnv.code).toBe(4);
  });

  it('prints help and the version', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/doctor\s+Check whether/);
    const docHelp = await run(['doctor', '--help']);
    expect(docHelp.stdout).toMatch(/--dsn URL/);
    const version = await run(['--version']);
    expect(version.stdout).toMatch(/^dbtrail \d+\.\d+\.\d+\n$/);
  });
});
