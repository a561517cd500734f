import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientGroup, quoteOptionValue, renderOptionFile, writeOptionFile } from './option-file.js';

const TRICKY = 'p#a"s s\\w\t\'x; $(id)';

describe('option files', () => {
  it('quotes and escapes every value', () => {
    expect(quoteOptionValue('plain')).toBe('"plain"');
    expect(quoteOptionValue('a"b\\c#d')).toBe('"a\\"b\\\\c#d"');
    expect(quoteOptionValue('line\nbreak')).toBe('"line\\nbreak"');
    expect(() => quoteOptionValue('nul\0')).toThrow(/NUL/);
  });

  it('renders groups and leaves out unset options', () => {
    const text = renderOptionFile({
      client: clientGroup({ user: 'u', password: 'pw', host: 'h', port: 3307 }),
    });
    expect(text).toBe('[client]\nuser="u"\npassword="pw"\nhost="h"\nport=3307\n');
    const socket = renderOptionFile({
      client: clientGroup({ user: 'u', socket: '/run/s.sock', host: 'h', port: 1 }),
    });
    expect(socket).toBe('[client]\nuser="u"\nsocket="/run/s.sock"\n');
  });

  it('writes a 0600 file in a private 0700 directory and removes both on dispose', async () => {
    const file = await writeOptionFile({ client: clientGroup({ user: 'u', password: TRICKY }) });
    try {
      expect((await stat(file.path)).mode & 0o777).toBe(0o600);
      expect((await stat(dirname(file.path))).mode & 0o777).toBe(0o700);
      expect(await readFile(file.path, 'utf8')).toContain('password=');
    } finally {
      await file.dispose();
    }
    expect(existsSync(file.path)).toBe(false);
    expect(existsSync(dirname(file.path))).toBe(false);
    await file.dispose();
  });

  it('round-trips a tricky password through the MariaDB option parser', async () => {
    const probe = spawnSync('my_print_defaults', ['--help'], { encoding: 'utf8' });
    if (probe.error !== undefined) return; // the client tools are part of CI; skip only where they are absent
    const file = await writeOptionFile({
      client: clientGroup({ user: 'app user', password: TRICKY, host: '127.0.0.1', port: 3306 }),
    });
    try {
      const out = spawnSync('my_print_defaults', [`--defaults-file=${file.path}`, 'client'], {
        encoding: 'utf8',
      });
      expect(out.status).toBe(0);
      expect(out.stdout.split('\n')).toEqual(
        expect.arrayContaining([
          `--user=app user`,
          `--password=${TRICKY}`,
          '--host=127.0.0.1',
          '--port=3306',
        ]),
      );
    } finally {
      await file.dispose();
    }
  });
});
