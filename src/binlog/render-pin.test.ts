import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readBinlogFile, readBinlogFileNdjson } from './file-reader.js';
import { renderNdjson, renderText } from './render.js';
import { oltpSpecBinlog } from './spec-bytes.js';

/**
 * Pins the exact bytes of `binlog decode` output (NDJSON and text) so that performance work on the decoder, the
 * renderer and the CLI writer cannot change a single byte: every fixture file and one synthetic binlog built here
 * from the spec are rendered and compared with the files under `__snapshots__/render-pin/`, recorded before the
 * renderer was optimised.
 */

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/binlog/', import.meta.url));
const present = existsSync(FIXTURES);
if (!present) console.warn(`Skipping fixture NDJSON pins: ${FIXTURES} does not exist`);
const SNAPSHOTS = './__snapshots__/render-pin';

const dir = mkdtempSync(join(tmpdir(), 'dbtrail-render-pin-'));
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function render(path: string, fn: typeof renderNdjson): Promise<string> {
  let out = '';
  for await (const e of readBinlogFile(path)) out += fn(e);
  return out;
}

async function ndjsonBytes(path: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of readBinlogFileNdjson(path)) parts.push(b);
  return Buffer.concat(parts).toString('utf8');
}

describe('binlog decode output is pinned byte for byte', () => {
  const synthetic = join(dir, 'synthetic-oltp.000001');
  writeFileSync(synthetic, oltpSpecBinlog());

  it('synthetic OLTP binlog: NDJSON and text', async () => {
    const ndjson = await render(synthetic, renderNdjson);
    // Every line is one JSON object: the pin itself must be valid NDJSON.
    const lines = ndjson.trimEnd().split('\n');
    expect(lines).toHaveLength(11);
    for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
    await expect(ndjson).toMatchFileSnapshot(`${SNAPSHOTS}/synthetic-oltp.ndjson`);
    await expect(await render(synthetic, renderText)).toMatchFileSnapshot(`${SNAPSHOTS}/synthetic-oltp.txt`);
  });

  it('synthetic OLTP binlog: the NDJSON writer prints the same bytes', async () => {
    expect(await ndjsonBytes(synthetic)).toBe(await render(synthetic, renderNdjson));
  });

  const files = present
    ? ['mysql', 'mariadb'].flatMap((d) => readdirSync(join(FIXTURES, d)).map((f) => [d, f] as const))
    : [];
  it.skipIf(!present).each(files)('fixture %s/%s: NDJSON (both writers) and text', async (d, f) => {
    const path = join(FIXTURES, d, f);
    await expect(await render(path, renderNdjson)).toMatchFileSnapshot(`${SNAPSHOTS}/${d}-${f}.ndjson`);
    await expect(await render(path, renderText)).toMatchFileSnapshot(`${SNAPSHOTS}/${d}-${f}.txt`);
    expect(await ndjsonBytes(path)).toBe(await render(path, renderNdjson));
  });
});
