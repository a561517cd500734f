import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MANIFEST_FORMAT,
  serializeManifest,
  signManifest,
  type ManifestV1,
} from '../../src/backup/manifest.js';
import { canonicalBytes } from '../../src/lib/canonical-json.js';
import { loadOrCreateSigner } from '../../src/backup/signing.js';

/**
 * An auditor checks a manifest signature without dbtrail, with the commands README documents: jq rebuilds the
 * canonical bytes, openssl verifies the Ed25519 signature with the public key from `dbtrail key show`.
 */
const dir = mkdtempSync(join(tmpdir(), 'dbtrail-signing-openssl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MANIFEST: ManifestV1 = {
  format: MANIFEST_FORMAT,
  version: 1,
  backup_id: '6f1c2a44-1b7e-4d3a-9a0e-2f7f5e0c9b11',
  tenant: 'acme',
  server_name: 'orders-db',
  kind: 'logical',
  tool: { name: 'mydumper', version: '0.19.1' },
  server: {
    flavor: 'mariadb',
    version: '11.4.5-MariaDB',
    server_id: 4294967295,
    server_uuid: null,
    hostname: 'db-ü1',
  },
  started_at: '2026-03-13T14:15:00.123Z',
  finished_at: '2026-03-13T14:16:30.000Z',
  coordinates: { file: 'binlog.000042', position: 9007199254740991, gtid: '0-1-100,1-2-3' },
  filters: { schemas: ['shop', 'b"q\\uote'], tables: null },
  compression: 'zstd',
  encryption: { scheme: 'age', recipients: ['age1qqqqqq'] },
  files: [
    { path: 'shop.orders.00000.sql.zst.age', size: 10, sha256: 'a'.repeat(64) },
    { path: 'shop-schema-create.sql.zst.age', size: 0, sha256: 'b'.repeat(64) },
  ],
};

function sh(script: string): { code: number; out: string } {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('verifying a signed manifest with jq and openssl', () => {
  it('accepts the manifest as written and refuses it after an edit', async () => {
    const { signer } = await loadOrCreateSigner(join(dir, 'key.pem'));
    const signed = signManifest(MANIFEST, signer);
    writeFileSync(join(dir, 'manifest.json'), serializeManifest(signed));
    writeFileSync(join(dir, 'pub.pem'), signer.key.pem);
    const steps = `
      jq -cSj 'del(.signature)' manifest.json > signed.bin
      jq -r '.signature.value' manifest.json | base64 -d > sig.bin
      openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in signed.bin -sigfile sig.bin`;
    const ok = sh(steps);
    expect(ok.out).toContain('Signature Verified Successfully');
    expect(ok.code).toBe(0);
    // jq's bytes are exactly dbtrail's canonical bytes.
    const { signature: _s, ...body } = signed;
    expect(readFileSync(join(dir, 'signed.bin'))).toEqual(canonicalBytes(body));

    writeFileSync(
      join(dir, 'manifest.json'),
      serializeManifest({ ...signed, files: [{ ...signed.files[0]!, size: 11 }, signed.files[1]!] }),
    );
    const bad = sh(steps);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('Signature Verification Failure');
  });
});
