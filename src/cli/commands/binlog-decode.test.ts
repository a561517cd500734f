import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { oltpSpecBinlog } from '../../binlog/spec-bytes.js';
import { runCli } from '../run.js';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/binlog/', import.meta.url));
const PINS = fileURLToPath(new URL('../../binlog/__snapshots__/render-pin/', import.meta.url));
const present = existsSync(FIXTURES);
if (!present) console.warn(`Skipping binlog decode CLI tests: ${FIXTURES} does not exist`);

const dir = mkdtempSync(join(tmpdir(), 'dbtrail-binlog-cli-'));
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, { env: { DBTRAIL_HOME: dir, DBTRAIL_LOG_LEVEL: 'warn' }, stdout, stderr });
  return { code, stdout: out, stderr: err };
}

describe.skipIf(!present)('dbtrail binlog decode', () => {
  const types = join(FIXTURES, 'mariadb', 'mariadb-10.11-types.000001');

  it('prints one JSON object per event', async () => {
    const r = await run(['binlog', 'decode', types]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      file: 'mariadb-10.11-types.000001',
      pos: 4,
      type: 'FORMAT_DESCRIPTION',
      type_code: 15,
    });
    const write = lines.find((l) => l['type'] === 'WRITE_ROWS_V1')!;
    expect(write).toMatchObject({ schema: 't', table: 'types', gtid: '0-1-7' });
    expect((write['rows'] as { after: Record<string, unknown> }[])[0]!.after).toMatchObject({
      biu: '18446744073709551615',
      b64: { hex: 'FFFFFFFFFFFFFFFF' },
    });
    expect(lines.at(-1)).toMatchObject({ type: 'ROTATE' });
  });

  it('honours --from-pos, --stop-pos and --format text', async () => {
    const all = (await run(['binlog', 'decode', types])).stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { pos: number; type: string });
    const write = all.find((l) => l.type === 'WRITE_ROWS_V1')!;
    const tm = all[all.indexOf(write) - 1]!;
    const r = await run([
      'binlog',
      'decode',
      '--from-pos',
      String(tm.pos),
      '--stop-pos',
      String(write.pos + 1),
      '--format',
      'text',
      types,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^# mariadb-10.11-types.000001:\d+-\d+ \S+ server 1 TABLE_MAP t.types id 21 columns id, ti/,
    );
    // Starting after the GTID event, the transaction's GTID is unknown (as with mysqlbinlog --start-position).
    expect(r.stdout).toContain('WRITE_ROWS_V1 t.types (1 row)\n  after  {"id":"1"');
    expect(r.stdout.match(/^# /gm)).toHaveLength(2);
  });

  it('rejects a file that is not a binlog, by name', async () => {
    const path = join(dir, 'not-a-binlog.txt');
    writeFileSync(path, 'SELECT 1;\n');
    const r = await run(['binlog', 'decode', path]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `dbtrail: Cannot read "${path}": not a binlog file (expected the magic bytes fe 62 69 6e, found 53 45 4c 45)\n`,
    );
  });

  it('prints what decoded from a truncated copy, then one error line naming file and offset', async () => {
    const bytes = readFileSync(join(FIXTURES, 'mysql', 'mysql-bin.checksum-crc32'));
    const path = join(dir, 'mysql-bin.000009');
    writeFileSync(path, bytes.subarray(0, bytes.length - 20));
    const r = await run(['binlog', 'decode', path]);
    expect(r.code).toBe(3);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { next_pos: number; type: string });
    expect(lines.length).toBeGreaterThan(300);
    const offset = lines.at(-1)!.next_pos;
    expect(r.stderr).toMatch(
      new RegExp(
        `^dbtrail: Cannot decode "${path.replace(/[.]/g, '\\.')}": stopped at offset ${offset}, incomplete event \\(the event needs \\d+ bytes, \\d+ are there\\)\\n$`,
      ),
    );
  });

  it('reports corruption after the events before it', async () => {
    const bytes = Buffer.from(readFileSync(join(FIXTURES, 'mysql', 'mysql-bin.checksum-crc32')));
    bytes[2000] = (bytes[2000] as number) ^ 0xff;
    const path = join(dir, 'corrupt.000001');
    writeFileSync(path, bytes);
    const r = await run(['binlog', 'decode', path]);
    expect(r.code).toBe(3);
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(
      /^dbtrail: Cannot decode ".*corrupt\.000001" at offset \d+ \(\w+\): Cannot verify \w+ event at "corrupt\.000001" position \d+: CRC32 is 0x[0-9a-f]{8}, the event stores 0x[0-9a-f]{8}\n$/,
    );
  });

  it('prints exactly the pinned NDJSON of the renderer (src/binlog/__snapshots__/render-pin)', async () => {
    for (const [d, f] of [
      ['mariadb', 'mariadb-10.11-types.000001'],
      ['mysql', 'mysql-bin.checksum-crc32'],
      ['mysql', 'mysql-bin.compressed'],
    ] as const) {
      const r = await run(['binlog', 'decode', join(FIXTURES, d, f)]);
      expect(r.code).toBe(0);
      expect(r.stdout, f).toBe(readFileSync(join(PINS, `${d}-${f}.ndjson`), 'utf8'));
    }
  });
});

describe('dbtrail binlog decode output bytes', () => {
  it('equal the pinned NDJSON and text of the synthetic OLTP binlog', async () => {
    const path = join(dir, 'synthetic-oltp.000001');
    writeFileSync(path, oltpSpecBinlog());
    const r = await run(['binlog', 'decode', path]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(readFileSync(join(PINS, 'synthetic-oltp.ndjson'), 'utf8'));
    const t = await run(['binlog', 'decode', '--format', 'text', path]);
    expect(t.stdout).toBe(readFileSync(join(PINS, 'synthetic-oltp.txt'), 'utf8'));
  });
});
