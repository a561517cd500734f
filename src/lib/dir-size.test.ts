import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { directorySize, watchDirectorySize } from './dir-size.js';

describe('directorySize', () => {
  it('adds up files in nested folders and reports a missing folder as empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbtrail-size-'));
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'x'), Buffer.alloc(100));
    writeFileSync(join(dir, 'a', 'b', 'y'), Buffer.alloc(23));
    expect(await directorySize(dir)).toBe(123);
    expect(await directorySize(join(dir, 'missing'))).toBe(0);
  });

  it('reports growth while watching and stops when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbtrail-size-'));
    const seen: number[] = [];
    const stop = watchDirectorySize(dir, 10, (n) => seen.push(n));
    writeFileSync(join(dir, 'f'), Buffer.alloc(50));
    await new Promise((r) => setTimeout(r, 80));
    stop();
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 40));
    expect(seen.length).toBe(count);
    expect(seen.at(-1)).toBe(50);
  });
});
