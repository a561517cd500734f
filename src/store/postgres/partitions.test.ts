import { describe, expect, it } from 'vitest';
import { monthOf } from './partitions.js';

const us = (iso: string): bigint => BigInt(Date.parse(iso)) * 1000n;

describe('monthOf', () => {
  it('gives the UTC calendar month around a commit time, inclusive start and exclusive end', () => {
    expect(monthOf(7n, us('2024-05-01T10:00:00Z') + 123n)).toEqual({
      fromUs: us('2024-05-01T00:00:00Z'),
      toUs: us('2024-06-01T00:00:00Z'),
      suffix: 's7_202405',
    });
    expect(monthOf(7n, us('2024-05-31T23:59:59.999Z') + 999n).suffix).toBe('s7_202405');
    expect(monthOf(7n, us('2024-06-01T00:00:00Z')).suffix).toBe('s7_202406');
    expect(monthOf(12n, us('2024-12-31T23:59:59Z'))).toMatchObject({
      toUs: us('2025-01-01T00:00:00Z'),
      suffix: 's12_202412',
    });
    expect(monthOf(1n, 0n)).toMatchObject({ fromUs: 0n, suffix: 's1_197001' });
  });

  it('puts times from year 10000 on in one open-ended range', () => {
    const max = (1n << 63n) - 1n;
    expect(monthOf(3n, max)).toEqual({ fromUs: us('+010000-01-01T00:00:00Z'), toUs: max, suffix: 's3_max' });
    expect(monthOf(3n, us('+009999-12-31T00:00:00Z')).suffix).toBe('s3_999912');
  });
});
