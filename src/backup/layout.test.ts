import { describe, expect, it } from 'vitest';
import { backupKey, backupPrefix, distinctBackupPrefix, listPrefix, manifestKey } from './layout.js';
import { ManifestError } from './errors.js';

const base = { tenant: 'acme', server_name: 'db-main', started_at: '2026-03-13T14:15:00Z' };

describe('backupPrefix', () => {
  it('is <tenant>/<server-name>/<YYYY-MM-DD>/<HHMMSS> in UTC', () => {
    expect(backupPrefix(base)).toBe('acme/db-main/2026-03-13/141500');
    expect(backupPrefix({ ...base, started_at: '2026-03-13T14:15:09.987654Z' })).toBe(
      'acme/db-main/2026-03-13/141509',
    );
    // 00:30 at +02:00 is the previous day in UTC.
    expect(backupPrefix({ ...base, started_at: '2026-03-14T00:30:05+02:00' })).toBe(
      'acme/db-main/2026-03-13/223005',
    );
  });

  it('refuses a time without a zone, which would depend on the host', () => {
    expect(() => backupPrefix({ ...base, started_at: '2026-03-13T14:15:00' })).toThrow(ManifestError);
    expect(() => backupPrefix({ ...base, started_at: 'yesterday' })).toThrow(
      /started_at "yesterday" is not an ISO-8601 time with a zone/,
    );
  });

  it('refuses tenant and server names that are not a single safe path segment', () => {
    expect(() => backupPrefix({ ...base, tenant: 'a/b' })).toThrow(
      'tenant "a/b" is not usable in a path: it contains "/"',
    );
    expect(() => backupPrefix({ ...base, server_name: '..' })).toThrow(
      'server name ".." is not usable in a path',
    );
    expect(() => backupPrefix({ ...base, server_name: '' })).toThrow(
      /server name "" is not usable in a path: it is empty/,
    );
  });
});

describe('a base prefix and the folder of a second backup in the same second', () => {
  const withId = { ...base, backup_id: '3f2a9c1d-5b6e-4f70-8a91-b2c3d4e5f607' };

  it('puts the dated folders under a base that starts with the tenant', () => {
    expect(backupPrefix(base, { base: 'acme/custom/nightly/' })).toBe(
      'acme/custom/nightly/2026-03-13/141500',
    );
    expect(backupPrefix(base, { base: 'acme/x' })).toBe('acme/x/2026-03-13/141500');
    expect(() => backupPrefix(base, { base: 'other/db-main/' })).toThrow(
      'object prefix "other/db-main/" is not usable: it does not start with the tenant "acme/"',
    );
    expect(() => backupPrefix(base, { base: 'acme/../other/' })).toThrow(/contains a "\.\." segment/);
    expect(() => backupPrefix(base, { base: 'acme' })).toThrow(/does not start with the tenant/);
  });

  it('is <HHMMSS>-<first 8 characters of the backup id>, the same for the same backup', () => {
    expect(distinctBackupPrefix(withId)).toBe('acme/db-main/2026-03-13/141500-3f2a9c1d');
    expect(distinctBackupPrefix(withId)).toBe(distinctBackupPrefix({ ...withId }));
    expect(distinctBackupPrefix({ ...withId, backup_id: '0000aaaa-0000-4000-8000-000000000000' })).toBe(
      'acme/db-main/2026-03-13/141500-0000aaaa',
    );
    expect(distinctBackupPrefix(withId, { base: 'acme/custom' })).toBe(
      'acme/custom/2026-03-13/141500-3f2a9c1d',
    );
    // It sorts right after the plain folder of the same second.
    expect(distinctBackupPrefix(withId) > backupPrefix(base)).toBe(true);
    expect(() => distinctBackupPrefix({ ...withId, backup_id: 'a/b' })).toThrow(/not usable in a path/);
  });
});

describe('keys under a backup', () => {
  it('joins the prefix with file paths and the manifest name', () => {
    expect(backupKey('acme/db/2026-03-13/141500', 'sub/x.sql')).toBe('acme/db/2026-03-13/141500/sub/x.sql');
    expect(manifestKey('acme/db/2026-03-13/141500')).toBe('acme/db/2026-03-13/141500/manifest.json');
    expect(manifestKey('')).toBe('manifest.json');
    expect(listPrefix('acme/db/2026-03-13/141500')).toBe('acme/db/2026-03-13/141500/');
    expect(listPrefix('')).toBe('');
  });
});
