import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MANIFEST_FILE, MANIFEST_FORMAT, type Manifest, type ManifestV1 } from '../../src/backup/manifest.js';

export interface FakeBackup {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly files: ReadonlyMap<string, Buffer>;
}

/**
 * Writes a local backup directory as the dump step leaves it: the files, and a manifest listing them with their
 * real sizes and SHA-256s.
 */
export async function writeFakeBackup(
  dir: string,
  files: Readonly<Record<string, Buffer>>,
  overrides: Partial<ManifestV1> = {},
): Promise<FakeBackup> {
  const entries = Object.entries(files);
  for (const [path, data] of entries) {
    const full = join(dir, ...path.split('/'));
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, data);
  }
  const manifest: ManifestV1 = {
    format: MANIFEST_FORMAT,
    version: 1,
    backup_id: 'bk_0001',
    tenant: 'acme',
    server_name: 'db-main',
    kind: 'logical',
    tool: { name: 'mydumper', version: '0.19.1' },
    server: { flavor: 'mariadb', version: '11.4.5', server_id: 1, server_uuid: null, hostname: 'db1' },
    started_at: '2026-03-13T14:15:00.123Z',
    finished_at: '2026-03-13T14:16:30.000Z',
    coordinates: { file: 'binlog.000042', position: 12345, gtid: '0-1-100' },
    filters: { schemas: null, tables: null },
    compression: 'zstd',
    encryption: null,
    files: entries.map(([path, data]) => ({ path, size: data.length, sha256: sha256(data) })),
    ...overrides,
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir, manifest, files: new Map(entries) };
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
