import { describe, expect, it } from 'vitest';
import { charsetByName, charsetForCollation } from './charset.js';

function decode(collation: number, bytes: number[] | Buffer): string | undefined {
  const cs = charsetForCollation(collation);
  expect(cs).toBeDefined();
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return cs!.decode(Buffer.concat([Buffer.from([0x20]), buf, Buffer.from([0x20])]), 1, buf.length + 1);
}

describe('charsetForCollation', () => {
  it('maps MySQL and MariaDB collation ids to their character sets', () => {
    const names: [number, string][] = [
      [8, 'latin1'],
      [33, 'utf8mb3'],
      [45, 'utf8mb4'],
      [46, 'utf8mb4'],
      [63, 'binary'],
      [76, 'utf8mb3'],
      [224, 'utf8mb4'],
      [248, 'gb18030'],
      [255, 'utf8mb4'],
      [309, 'utf8mb4'],
      [2304, 'utf8mb4'],
      [2048, 'utf8mb3'],
      [2560, 'ucs2'],
      [2816, 'utf16'],
      [3072, 'utf32'],
      [1032, 'latin1'],
      [28, 'gbk'],
      [95, 'cp932'],
    ];
    for (const [id, name] of names) expect(charsetForCollation(id)?.name, `collation ${id}`).toBe(name);
    expect(charsetForCollation(63)?.binary).toBe(true);
    expect(charsetForCollation(45)?.binary).toBe(false);
    expect(charsetForCollation(0)).toBeUndefined();
    expect(charsetForCollation(5000)).toBeUndefined();
    expect(charsetForCollation(-1)).toBeUndefined();
    expect(charsetByName('UTF8')?.name).toBe('utf8mb3');
    expect(charsetByName('latin1')?.maxBytes).toBe(1);
  });

  it('decodes MySQL latin1: cp1252 for 0x80-0x9F with C1 controls at 0x81 0x8D 0x8F 0x90 0x9D', () => {
    const all = Array.from({ length: 32 }, (_, i) => 0x80 + i);
    const text = decode(8, all)!;
    expect([...text].map((c) => c.codePointAt(0))).toEqual([
      0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
      0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
      0x153, 0x9d, 0x17e, 0x178,
    ]);
    expect(decode(8, [0x41, 0xe9, 0xff])).toBe('Aéÿ');
  });

  it('decodes multi-byte and wide charsets, keeping a leading U+FEFF', () => {
    expect(decode(45, Buffer.from('😀', 'utf8'))).toBe('😀');
    expect(decode(54, [0xfe, 0xff, 0x00, 0x41])).toBe('\ufeffA');
    expect(decode(56, [0x41, 0x00, 0x3d, 0xd8, 0x00, 0xde])).toBe('A😀');
    expect(decode(60, [0x00, 0x01, 0xf6, 0x00])).toBe('😀');
    expect(decode(35, [0x03, 0xbb])).toBe('λ');
    expect(decode(13, [0x82, 0xa0])).toBe('あ');
    expect(decode(12, [0xa4, 0xa2])).toBe('あ');
    expect(decode(19, [0xb0, 0xa1])).toBe('가');
    expect(decode(1, [0xa4, 0x40])).toBe('一');
    expect(decode(14, [0xc6, 0xe6])).toBe('Жж');
    expect(decode(9, [0xa1])).toBe('Ą');
  });

  it('returns undefined for bytes a charset without a decoder cannot vouch for', () => {
    expect(decode(4, [0x41, 0x42])).toBe('AB');
    expect(decode(4, [0x82])).toBeUndefined();
    expect(decode(10, [0x41])).toBe('A');
    expect(decode(10, [0x40])).toBeUndefined();
    expect(decode(60, [0x00, 0x11, 0x00, 0x00])).toBeUndefined();
    expect(decode(60, [0x00, 0x00, 0x41])).toBeUndefined();
    expect(decode(63, [0x41])).toBeUndefined();
  });
});
