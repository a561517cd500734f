import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/run.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILT_CLI = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');

/** Runs the CLI in-process with captured output: fast, for most command tests. */
export async function cli(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, { env: { DBTRAIL_LOG_LEVEL: 'warn', ...env }, stdout, stderr });
  return { code, stdout: out, stderr: err };
}

/** Runs the built binary (`npm run build` first) as a real process, as a user would. */
export function cliBinary(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<CliResult> {
  if (!existsSync(BUILT_CLI))
    throw new Error(`Cannot run the built CLI: ${BUILT_CLI} is missing (run npm run build)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUILT_CLI, ...argv], {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
      cwd: cwd ?? PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: out, stderr: err }));
  });
}
