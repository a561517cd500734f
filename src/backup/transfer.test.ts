import { describe, expect, it } from 'vitest';
import { MANIFEST_FORMAT } from './manifest.js';
import { ManifestError } from './errors.js';
import { parseManifestBytes, runPool } from './transfer.js';

const SHA = 'a'.repeat(64);
function manifest(files: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({
      format: MANIFEST_FORMAT,
      version: 1,
      backup_id: 'bk_1',
      tenant: 't',
      server_name: 's',
      kind: 'logical',
      tool: { name: 'mydumper', version: '0.19.1' },
      server: { flavor: 'mariadb', version: '11.4.5', server_id: 1, server_uuid: null, hostname: 'h' },
      started_at: '2026-03-13T14:15:00Z',
      finished_at: '2026-03-13T14:16:00Z',
      coordinates: { file: 'binlog.000001', position: 4, gtid: null },
      filters: { schemas: null, tables: null },
      compression: 'zstd',
      encryption: null,
      files,
    }),
  );
}

// The parser itself is tested in manifest.test.ts; these pin what transfers depend on.
describe('parseManifestBytes', () => {
  it('reads stored bytes through the manifest parser', () => {
    const m = parseManifestBytes(manifest([{ path: 'a.sql', size: 3, sha256: SHA }]), 'm.json');
    expect(m.files).toEqual([{ path: 'a.sql', size: 3, sha256: SHA }]);
  });

  it('refuses file paths a fetch could write outside its target with, naming the source', () => {
    for (const path of ['../etc/passwd', '/etc/passwd', 'a/../../b']) {
      expect(() =>
        parseManifestBytes(manifest([{ path, size: 1, sha256: SHA }]), 's3://b/x/manifest.json'),
      ).toThrow(ManifestError);
      expect(() =>
        parseManifestBytes(manifest([{ path, size: 1, sha256: SHA }]), 's3://b/x/manifest.json'),
      ).toThrow(
        /^Cannot read backup manifest s3:\/\/b\/x\/manifest\.json: files\[0\]\.path .* is not a safe relative path/,
      );
    }
  });
});

describe('runPool', () => {
  it('runs every item with at most the given concurrency', async () => {
    let active = 0;
    let peak = 0;
    const seen: number[] = [];
    await runPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(n);
      active--;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(3);
  });

  it('starts nothing new after a failure and throws the first error once in-flight work settled', async () => {
    const started: number[] = [];
    const err = await runPool([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await new Promise((r) => setTimeout(r, n === 1 ? 1 : 20));
      if (n === 1) throw new Error('first failed');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('first failed');
    expect(started).toEqual([1, 2]);
  });

  it('stops when the signal aborts', async () => {
    const ac = new AbortController();
    const started: number[] = [];
    const err = await runPool(
      [1, 2, 3],
      1,
      (n) => {
        started.push(n);
        ac.abort(new Error('stop'));
        return Promise.resolve();
      },
      ac.signal,
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('stop');
    expect(started).toEqual([1]);
  });
});
