import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isDbtrailError } from '../lib/errors.js';
import { decodeBinlogChunks } from './file-reader.js';

/**
 * Mutated and truncated real binlogs must fail only with typed errors, quickly, and without unbounded memory:
 * a flipped length byte may claim gigabytes, a flipped count may claim millions of entries.
 */
const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/binlog/', import.meta.url));
const present = existsSync(FIXTURES);
if (!present) console.warn(`Skipping binlog fuzz tests: ${FIXTURES} does not exist`);

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function run(bytes: Buffer, verifyChecksums: boolean): Promise<{ events: number; error: unknown }> {
  let events = 0;
  try {
    const source = [
      bytes.subarray(4, Math.min(bytes.length, 4 + 97)),
      bytes.subarray(Math.min(bytes.length, 4 + 97)),
    ];
    for await (const _ of decodeBinlogChunks(source, {
      name: 'fuzz',
      fileSize: bytes.length,
      verifyChecksums,
      maxDecompressedSize: 64 << 20,
    })) {
      events++;
    }
  } catch (error) {
    return { events, error };
  }
  return { events, error: undefined };
}

function expectTyped(error: unknown, label: string): void {
  if (error !== undefined && !isDbtrailError(error)) {
    throw new Error(
      `${label}: untyped ${(error as Error).name}: ${(error as Error).message}\n${(error as Error).stack ?? ''}`,
    );
  }
}

describe.skipIf(!present)('fuzzing the decoder with real binlogs', () => {
  const files = present
    ? ['mysql', 'mariadb'].flatMap((d) => readdirSync(join(FIXTURES, d)).map((f) => join(FIXTURES, d, f)))
    : [];

  it('truncated files give complete events then a typed error', async () => {
    for (const path of files) {
      const bytes = readFileSync(path);
      const step = Math.max(1, Math.floor(bytes.length / 40));
      for (let cut = 4; cut < bytes.length; cut += step) {
        const { error } = await run(bytes.subarray(0, cut), true);
        expectTyped(error, `${path} cut at ${cut}`);
      }
    }
  });

  it('byte flips give only typed errors, in bounded time and memory', async () => {
    const random = rng(20240229);
    const rssBefore = process.memoryUsage().rss;
    let failures = 0;
    let runs = 0;
    for (const path of files) {
      const original = readFileSync(path);
      for (let i = 0; i < 60; i++) {
        const bytes = Buffer.from(original);
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          const at = 4 + Math.floor(random() * (bytes.length - 4));
          bytes[at] = Math.floor(random() * 256);
        }
        const started = Date.now();
        // Half the runs skip CRC verification so the corruption reaches the event decoders.
        const { error } = await run(bytes, i % 2 === 0);
        expect(Date.now() - started).toBeLessThan(2000);
        expectTyped(error, `${path} mutation ${i}`);
        runs++;
        if (error !== undefined) failures++;
      }
    }
    expect(runs).toBeGreaterThan(500);
    expect(failures).toBeGreaterThan(0);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(512 * 1024 * 1024);
  });
});
