import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptFile, encryptFile, readIdentityFile } from '../../src/backup/encryption.js';
import { runCli } from '../../src/cli/run.js';

/** Files dbtrail encrypts open with the standard `age` tool and the other way round; keys are interchangeable. */

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dbtrail-age-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _e, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return Object.assign(w, { text: () => Buffer.concat(chunks).toString('utf8') });
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await runCli(argv, {
    env: { DBTRAIL_HOME: join(dir, 'home'), DBTRAIL_LOG_LEVEL: 'error' },
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('age interoperability', () => {
  it('dbtrail generate-key writes a 0600 identity and prints its recipient; age decrypts what dbtrail encrypted', async () => {
    const keyFile = join(dir, 'id.txt');
    const gen = await cli(['generate-key', '--out', keyFile]);
    expect(gen.code, gen.stderr).toBe(0);
    const recipient = gen.stdout.trim();
    expect(recipient).toMatch(/^age1[a-z0-9]{58}$/);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await cli(['generate-key', '--out', keyFile])).code).toBe(8); // never overwrites a key

    for (const size of [0, 65536, 200_001]) {
      const plain = randomBytes(size);
      await writeFile(join(dir, `p${size}`), plain);
      await encryptFile(join(dir, `p${size}`), join(dir, `p${size}.age`), [recipient]);
      const out = spawnSync('age', ['--decrypt', '--identity', keyFile, join(dir, `p${size}.age`)], {
        maxBuffer: 1 << 26,
      });
      expect(out.status, out.stderr?.toString()).toBe(0);
      expect(Buffer.compare(out.stdout, plain)).toBe(0);
    }
  });

  it('dbtrail decrypts what age encrypted, with an age-keygen identity, and refuses another key', async () => {
    const keyFile = join(dir, 'keygen.txt');
    const kg = spawnSync('age-keygen', ['-o', keyFile], { encoding: 'utf8' });
    expect(kg.status, kg.stderr).toBe(0);
    const recipient = /Public key: (age1\S+)/.exec(kg.stderr)?.[1] as string;
    const plain = randomBytes(150_000);
    await writeFile(join(dir, 'q'), plain);
    const enc = spawnSync('age', [
      '--encrypt',
      '--recipient',
      recipient,
      '--output',
      join(dir, 'q.age'),
      join(dir, 'q'),
    ]);
    expect(enc.status, enc.stderr?.toString()).toBe(0);

    const run = await cli([
      'decrypt',
      join(dir, 'q.age'),
      '--identity',
      keyFile,
      '--out',
      join(dir, 'q.out'),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect((await readFile(join(dir, 'q.out'))).equals(plain)).toBe(true);

    const other = join(dir, 'other.txt');
    expect((await cli(['generate-key', '--out', other])).code).toBe(0);
    const wrong = await cli([
      'decrypt',
      join(dir, 'q.age'),
      '--identity',
      other,
      '--out',
      join(dir, 'q.wrong'),
    ]);
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toMatch(/none of the given identities is a recipient/);
    expect(existsSync(join(dir, 'q.wrong'))).toBe(false);
    await expect(
      decryptFile(join(dir, 'q.age'), join(dir, 'q.wrong2'), await readIdentityFile(other)),
    ).rejects.toThrow();
  });

  it('age rejects a file of ours that was truncated, as dbtrail does', async () => {
    const gen = await cli(['generate-key', '--out', join(dir, 't.txt')]);
    const recipient = gen.stdout.trim();
    await writeFile(join(dir, 't'), randomBytes(3 * 65536 + 7));
    await encryptFile(join(dir, 't'), join(dir, 't.age'), [recipient]);
    const sealed = await readFile(join(dir, 't.age'));
    await writeFile(join(dir, 't.cut.age'), sealed.subarray(0, sealed.length - (65536 + 16 + 7 + 16)));
    const out = spawnSync('age', ['--decrypt', '--identity', join(dir, 't.txt'), join(dir, 't.cut.age')]);
    expect(out.status).not.toBe(0);
    const ours = await cli(['decrypt', join(dir, 't.cut.age'), '--identity', join(dir, 't.txt')]);
    expect(ours.code).toBe(9);
    expect(existsSync(join(dir, 't.cut'))).toBe(false);
  });
});
