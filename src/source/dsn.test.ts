import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDsn, parseDsn, redactDsn, resolvePassword } from './dsn.js';
import { DsnError, PasswordSourceError } from './errors.js';

describe('parseDsn', () => {
  it('parses user, percent-encoded password, host, port, database and options', () => {
    const dsn = parseDsn('mysql://app%40x:p%3Ass%2Fw@db.example:3307/shop?tls=required');
    expect(dsn).toEqual({
      host: 'db.example',
      port: 3307,
      user: 'app@x',
      password: 'p:ss/w',
      database: 'shop',
      socketPath: undefined,
      tls: 'required',
    });
    expect(describeDsn(dsn)).toBe('app@x@db.example:3307');
  });

  it('defaults the port and accepts mariadb:// and a socket', () => {
    expect(parseDsn('mariadb://root@localhost').port).toBe(3306);
    expect(parseDsn('mysql://root@localhost?socket=/run/mysqld/mysqld.sock').socketPath).toBe(
      '/run/mysqld/mysqld.sock',
    );
  });

  it.each([
    ['not a url', /expected mysql:\/\/user/],
    ['postgres://u@h', /scheme must be mysql:\/\/ or mariadb:\/\//],
    ['mysql://h:3306', /a user name is required/],
    ['mysql://u@h:99999', /expected mysql|port must be/],
    ['mysql://u@h?tls=maybe', /tls must be off, preferred or required/],
    ['mysql://u@h?sslmode=on', /unknown parameter "sslmode"/],
  ])('rejects %s with a clear message', (text, pattern) => {
    expect(() => parseDsn(text)).toThrow(DsnError);
    expect(() => parseDsn(text)).toThrow(pattern);
  });

  it('never echoes the password in an error', () => {
    try {
      parseDsn('ftp://u:topsecret@h');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('topsecret');
      expect((err as Error).message).toContain('ftp://u:***@h');
    }
    expect(redactDsn('mysql://u:secret@h:1/db')).toBe('mysql://u:***@h:1/db');
  });
});

describe('resolvePassword', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbtrail-dsn-'));
  const file = join(dir, 'pw');
  writeFileSync(file, 'from-file\nignored\n');

  it('prefers the DSN, then the environment, then the file', () => {
    expect(
      resolvePassword(parseDsn('mysql://u:dsn@h'), { password: 'env', passwordFile: file }),
    ).toMatchObject({
      password: 'dsn',
      passwordOrigin: 'dsn',
    });
    expect(resolvePassword(parseDsn('mysql://u@h'), { password: 'env', passwordFile: file })).toMatchObject({
      password: 'env',
      passwordOrigin: 'env',
    });
    expect(resolvePassword(parseDsn('mysql://u@h'), { passwordFile: file })).toMatchObject({
      password: 'from-file',
      passwordOrigin: 'file',
    });
    expect(resolvePassword(parseDsn('mysql://u@h'), {})).toMatchObject({
      password: undefined,
      passwordOrigin: 'none',
    });
  });

  it('names an unreadable password file', () => {
    expect(() => resolvePassword(parseDsn('mysql://u@h'), { passwordFile: join(dir, 'missing') })).toThrow(
      PasswordSourceError,
    );
    expect(() => resolvePassword(parseDsn('mysql://u@h'), { passwordFile: join(dir, 'missing') })).toThrow(
      /Cannot read password file .*missing/,
    );
  });
});
