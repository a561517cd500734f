import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { decryptFile, generateKeyPair } from '../../src/backup/encryption.js';
import type { ManifestFile } from '../../src/backup/manifest.js';
import { FileSealer, openFiles } from '../../src/backup/sealer.js';

/**
 * The sealer against a real process that writes files the way mydumper does (create, write, close; metadata
 * renamed at the end), steered by marker files so that every step is certain: a closed file is sealed while the
 * process runs, an open one is not, and a file that changes after it was sealed is sealed again at the end.
 */

const work = await mkdtemp(join(tmpdir(), 'dbtrail-sealer-'));
afterAll(() => rm(work, { recursive: true, force: true }));

/** The writer: each step waits for `<ctl>/<name>` when told to, so the test decides when the process moves on. */
const WRITER = `
const fs = require('node:fs');
const [dir, ctl, mode] = process.argv.slice(1);
const until = (name) => new Promise((r) => { const t = setInterval(() => { if (fs.existsSync(ctl + '/' + name)) { clearInterval(t); r(); } }, 10); });
(async () => {
  fs.writeFileSync(dir + '/metadata.partial', 'Started dump at: 2026-01-01 00:00:00\\n');
  fs.writeFileSync(dir + '/app.t1.00001.sql', 'INSERT INTO t1 VALUES (1);\\n'.repeat(5000));
  const open = fs.openSync(dir + '/app.t1.00002.sql', 'w');
  fs.writeSync(open, 'INSERT INTO t1 VALUES (2);\\n');
  fs.writeFileSync(dir + '/app.t2.00001.sql', 'INSERT INTO t2 VALUES (1);\\n');
  await until('finish-open');
  fs.writeSync(open, 'INSERT INTO t1 VALUES (3);\\n');
  fs.closeSync(open);
  await until('append');
  // Not something mydumper does: a file changed after it was complete must still end up right in the manifest.
  if (mode === 'append') fs.appendFileSync(dir + '/app.t2.00001.sql', 'INSERT INTO t2 VALUES (2);\\n');
  fs.appendFileSync(dir + '/metadata.partial', 'Finished dump at: 2026-01-01 00:00:01\\n');
  fs.renameSync(dir + '/metadata.partial', dir + '/metadata');
})();
`;

async function startWriter(
  name: string,
  mode: 'append' | 'plain',
): Promise<{ dir: string; ctl: string; child: ChildProcess; exited: Promise<void> }> {
  const dir = join(work, name);
  const ctl = join(work, `${name}-ctl`);
  await Promise.all([mkdirp(dir), mkdirp(ctl)]);
  const child = spawn(process.execPath, ['-e', WRITER, dir, ctl, mode], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { dir, ctl, child, exited };
}

async function mkdirp(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await sleep(10);
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('FileSealer', () => {
  it('seals closed files while the writer runs, leaves open ones, and seals anew a file changed later', async () => {
    const { dir, ctl, child, exited } = await startWriter('plain', 'append');
    const sealed: ManifestFile[] = [];
    const sealer = new FileSealer(dir, {
      recipients: [],
      concurrency: 2,
      pollMs: 20,
      onSealed: (f) => sealed.push(f),
    });
    await until('the writer has its files', () => existsSync(join(dir, 'app.t2.00001.sql')));
    sealer.watch(child.pid as number);

    await until('the closed files are sealed', () => sealed.length >= 2);
    // Still running, still holding app.t1.00002.sql open: only the closed files are sealed, metadata never early.
    expect(child.exitCode).toBeNull();
    const open = await openFiles(child.pid as number);
    expect([...(open ?? [])].some((p) => p.endsWith('app.t1.00002.sql'))).toBe(true);
    expect(sealed.map((f) => f.path).sort()).toEqual(['app.t1.00001.sql', 'app.t2.00001.sql']);
    expect(sealer.sealedEarly).toBe(2);
    const first = sealed.find((f) => f.path === 'app.t1.00001.sql') as ManifestFile;
    expect(first.sha256).toBe(sha256(await readFile(join(dir, 'app.t1.00001.sql'))));

    await writeFile(join(ctl, 'finish-open'), '');
    await until('the file closed last is sealed too', () =>
      sealed.some((f) => f.path === 'app.t1.00002.sql'),
    );
    await writeFile(join(ctl, 'append'), '');
    await exited;

    const files = await sealer.finish();
    expect(files.map((f) => f.path)).toEqual([
      'app.t1.00001.sql',
      'app.t1.00002.sql',
      'app.t2.00001.sql',
      'metadata',
    ]);
    for (const f of files) {
      const bytes = await readFile(join(dir, f.path));
      expect({ path: f.path, size: f.size, sha256: f.sha256 }).toEqual({
        path: f.path,
        size: bytes.length,
        sha256: sha256(bytes),
      });
    }
    // The changed file was reported twice: first as it was, then with its final bytes.
    const t2 = sealed.filter((f) => f.path === 'app.t2.00001.sql');
    expect(t2).toHaveLength(2);
    expect(t2[0]?.sha256).not.toBe(t2[1]?.sha256);
    expect(t2[1]?.sha256).toBe(files[2]?.sha256);
  });

  it('encrypts closed files early, removes each plaintext only once its ciphertext is complete', async () => {
    const key = await generateKeyPair();
    const { dir, ctl, child, exited } = await startWriter('enc', 'plain');
    const sealed: string[] = [];
    const sealer = new FileSealer(dir, {
      recipients: [key.recipient],
      concurrency: 2,
      pollMs: 20,
      onSealed: (f) => sealed.push(f.path),
    });
    await until('the writer has its files', () => existsSync(join(dir, 'app.t2.00001.sql')));
    const expected = await readFile(join(dir, 'app.t1.00001.sql'));
    sealer.watch(child.pid as number);
    await until('a closed file is encrypted', () => sealed.includes('app.t1.00001.sql.age'));
    expect(child.exitCode).toBeNull();
    const names = await readdir(dir);
    expect(names).toContain('app.t1.00001.sql.age');
    expect(names).not.toContain('app.t1.00001.sql');
    // The open file is left alone.
    expect(names).toContain('app.t1.00002.sql');
    expect(names).not.toContain('app.t1.00002.sql.age');

    await writeFile(join(ctl, 'finish-open'), '');
    await writeFile(join(ctl, 'append'), '');
    await exited;
    const files = await sealer.finish();
    expect(files.map((f) => f.path)).toEqual([
      'app.t1.00001.sql.age',
      'app.t1.00002.sql.age',
      'app.t2.00001.sql.age',
      'metadata.age',
    ]);
    expect((await readdir(dir)).sort()).toEqual(files.map((f) => f.path));
    for (const f of files) {
      const bytes = await readFile(join(dir, f.path));
      expect(sha256(bytes)).toBe(f.sha256);
    }
    const out = join(work, 'enc-t1.sql');
    await decryptFile(join(dir, 'app.t1.00001.sql.age'), out, [key.identity]);
    expect(await readFile(out)).toEqual(expected);
    const meta = join(work, 'enc-metadata');
    await decryptFile(join(dir, 'metadata.age'), meta, [key.identity]);
    expect((await readFile(meta)).toString()).toMatch(/^Started dump at: .*\nFinished dump at: /);
  });

  it('seals everything at the end when it never watched a process (physical backups)', async () => {
    const dir = join(work, 'after');
    await mkdirp(join(dir, 'sub'));
    await writeFile(join(dir, 'ibdata1'), Buffer.alloc(100_000, 7));
    await writeFile(join(dir, 'sub', 't.ibd'), 'x');
    const sealer = new FileSealer(dir, { recipients: [], concurrency: 4 });
    const files = await sealer.finish();
    expect(files.map((f) => f.path)).toEqual(['ibdata1', 'sub/t.ibd']);
    expect(files[0]?.sha256).toBe(sha256(Buffer.alloc(100_000, 7)));
    expect(sealer.sealedEarly).toBe(0);
  });
});
