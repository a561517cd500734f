import { describe, expect, it } from 'vitest';
import { ManifestError } from './errors.js';
import { MANIFEST_FORMAT, parseManifest, serializeManifest, type ManifestV1 } from './manifest.js';

const SHA = 'a'.repeat(64);

const GOOD: ManifestV1 = {
  format: MANIFEST_FORMAT,
  version: 1,
  backup_id: '0b6f3c0e-8a43-4c8e-9a57-2f0d1a1f9e11',
  tenant: 'default',
  server_name: 'db1',
  kind: 'logical',
  tool: { name: 'mydumper', version: '0.10.0' },
  server: {
    flavor: 'mariadb',
    version: '10.11.19-MariaDB',
    server_id: 7,
    server_uuid: null,
    hostname: 'db1.local',
  },
  started_at: '2026-11-25T13:21:04.000Z',
  finished_at: '2026-11-25T13:21:09.512Z',
  coordinates: { file: 'binlog.000001', position: 1162, gtid: '0-7-5' },
  filters: { schemas: ['app'], tables: null },
  compression: 'gzip',
  encryption: null,
  files: [
    { path: 'app-schema-create.sql.gz', size: 90, sha256: SHA },
    { path: 'metadata', size: 139, sha256: 'b'.repeat(64) },
  ],
};

function variant(change: (m: Record<string, unknown>) => void): string {
  const copy = JSON.parse(JSON.stringify(GOOD)) as Record<string, unknown>;
  change(copy);
  return JSON.stringify(copy);
}

describe('parseManifest', () => {
  it('round-trips what dbtrail writes', () => {
    expect(parseManifest(serializeManifest(GOOD))).toEqual(GOOD);
  });

  it('accepts an encrypted manifest whose files end in .age', () => {
    const text = variant((m) => {
      m['encryption'] = { scheme: 'age', recipients: ['age1qqqq'] };
      m['files'] = [{ path: 'metadata.age', size: 1, sha256: SHA }];
    });
    expect(parseManifest(text).encryption).toEqual({ scheme: 'age', recipients: ['age1qqqq'] });
  });

  it('ignores unknown extra fields', () => {
    expect(parseManifest(variant((m) => (m['note'] = 'x'))).backup_id).toBe(GOOD.backup_id);
  });

  const bad: [string, string, RegExp][] = [
    ['not JSON', '{', /not valid JSON/],
    ['another format', variant((m) => (m['format'] = 'x')), /format is "x"/],
    ['a newer version', variant((m) => (m['version'] = 3)), /version 3 is newer .* upgrade dbtrail/],
    ['a version that is no number', variant((m) => (m['version'] = '1')), /version is "1"/],
    ['missing coordinates', variant((m) => delete m['coordinates']), /coordinates is not a JSON object/],
    [
      'a coordinate file that is empty',
      variant((m) => ((m['coordinates'] as Record<string, unknown>)['file'] = '')),
      /coordinates\.file/,
    ],
    [
      'a fractional position',
      variant((m) => ((m['coordinates'] as Record<string, unknown>)['position'] = 1.5)),
      /coordinates\.position/,
    ],
    [
      'an unknown tool',
      variant((m) => ((m['tool'] as Record<string, unknown>)['name'] = 'mysqldump')),
      /tool\.name is "mysqldump"/,
    ],
    ['a local time', variant((m) => (m['started_at'] = '2026-11-25 13:21:04')), /started_at .* ISO-8601 UTC/],
    [
      'an unsafe path',
      variant((m) => (m['files'] = [{ path: '../etc/passwd', size: 1, sha256: SHA }])),
      /not a safe relative path/,
    ],
    [
      'a duplicate path',
      variant(
        (m) =>
          (m['files'] = [
            { path: 'a', size: 1, sha256: SHA },
            { path: 'a', size: 1, sha256: SHA },
          ]),
      ),
      /listed twice/,
    ],
    [
      'an upper-case hash',
      variant((m) => (m['files'] = [{ path: 'a', size: 1, sha256: 'A'.repeat(64) }])),
      /not a lower-case hex SHA-256/,
    ],
    [
      'a negative size',
      variant((m) => (m['files'] = [{ path: 'a', size: -1, sha256: SHA }])),
      /files\[0\]\.size/,
    ],
    [
      'encryption without .age files',
      variant((m) => (m['encryption'] = { scheme: 'age', recipients: ['age1x'] })),
      /lacks \.age/,
    ],
    [
      'a secret among recipients',
      variant((m) => (m['encryption'] = { scheme: 'age', recipients: ['AGE-SECRET-KEY-1X'] })),
      /age recipients/,
    ],
  ];
  for (const [name, text, message] of bad) {
    it(`refuses ${name}`, () => {
      expect(() => parseManifest(text, 'backups/x/manifest.json')).toThrow(ManifestError);
      expect(() => parseManifest(text, 'backups/x/manifest.json')).toThrow(message);
      expect(() => parseManifest(text, 'backups/x/manifest.json')).toThrow(
        /^Cannot read backup manifest backups\/x\/manifest\.json: /,
      );
    });
  }
});
