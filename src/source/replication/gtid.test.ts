import { describe, expect, it } from 'vitest';
import { Cursor } from '../../binlog/cursor.js';
import { decodePreviousGtids } from '../../binlog/decode-gtid.js';
import { defaultFormatDescription } from '../../binlog/format-description.js';
import { StartPositionError } from './errors.js';
import {
  looksLikeMariadbGtid,
  MariadbGtidPosition,
  MysqlGtidSet,
  parseMariadbGtidList,
  formatMariadbGtidList,
} from './gtid.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '00000000-0000-0000-0000-0000000000aa';

describe('MysqlGtidSet.encode', () => {
  it('encodes one source id with one interval, the end exclusive (Gtid_set::encode)', () => {
    expect(MysqlGtidSet.parse(`${U1}:1-5`).encode()).toEqual(
      hex(
        '0100000000000000' + // n_sids = 1, untagged format
          '3e11fa4771ca11e19e33c80aa9429562' +
          '0100000000000000' + // n_intervals
          '0100000000000000 0600000000000000',
      ),
    );
  });

  it('encodes the empty set as eight zero bytes', () => {
    expect(MysqlGtidSet.parse('').encode()).toEqual(hex('0000000000000000'));
  });

  it('sorts source ids and merges overlapping and adjacent intervals', () => {
    const set = MysqlGtidSet.parse(` ${U1}:7:1-3:4-5, ${U2.toUpperCase()}:10\n`);
    expect(set.toString()).toBe(`${U2}:10,${U1}:1-5:7`);
    expect(set.encode()).toEqual(
      hex(
        '0200000000000000' +
          '000000000000000000000000000000aa 0100000000000000 0a00000000000000 0b00000000000000' +
          '3e11fa4771ca11e19e33c80aa9429562 0200000000000000' +
          '0100000000000000 0600000000000000 0700000000000000 0800000000000000',
      ),
    );
  });

  it('switches to the tagged format when a tag is present (MySQL 8.3+)', () => {
    const set = MysqlGtidSet.parse(`${U1}:1-2:Tag1:3`);
    expect(set.toString()).toBe(`${U1}:1-2:tag1:3`);
    expect(set.encode()).toEqual(
      hex(
        '0102000000000001' + // format 1 in the low and high byte, n_sids = 2 in bits 8-55
          '3e11fa4771ca11e19e33c80aa9429562 00' + // untagged: empty tag, varlen 0
          '0100000000000000 0100000000000000 0300000000000000' +
          '3e11fa4771ca11e19e33c80aa9429562 08 74616731' + // varlen(4) = 4 << 1, "tag1"
          '0100000000000000 0300000000000000 0400000000000000',
      ),
    );
  });

  it('round-trips through the decoder of PREVIOUS_GTIDS, which reads the same encoding', () => {
    for (const text of [`${U1}:1-5:7-9`, `${U2}:1,${U1}:1-2:alpha:5-6:beta:1`]) {
      const encoded = MysqlGtidSet.parse(text).encode();
      const body = decodePreviousGtids(new Cursor(encoded), defaultFormatDescription());
      expect(MysqlGtidSet.parse(body.gtidSet).toString()).toBe(MysqlGtidSet.parse(text).toString());
    }
  });
});

describe('MysqlGtidSet.parse', () => {
  it.each([
    ['not-a-uuid:1-5', /not a server UUID/],
    [`${U1}`, /no transaction numbers/],
    [`${U1}:5-3`, /start <= end/],
    [`${U1}:0`, /start <= end/],
    [`${U1}:1-2-3`, /not a transaction number/],
    [`${U1}:9tag:1`, /not a transaction number/],
    [`${U1}:1:tag`, /ends without transaction numbers/],
    [`${U1}::1`, /empty field/],
    [`${U1}:${'t'.repeat(33)}:1`, /valid tag/],
  ])('rejects %s', (text, message) => {
    expect(() => MysqlGtidSet.parse(text)).toThrow(StartPositionError);
    expect(() => MysqlGtidSet.parse(text)).toThrow(message);
  });

  it('keeps 64-bit sequence numbers exact', () => {
    const set = MysqlGtidSet.parse(`${U1}:9223372036854775805-9223372036854775806`);
    expect(set.toString()).toBe(`${U1}:9223372036854775805-9223372036854775806`);
    expect(() => MysqlGtidSet.parse(`${U1}:9223372036854775807`)).toThrow(StartPositionError);
  });

  it('adds transactions and ranges as GTID events and PREVIOUS_GTIDS deliver them', () => {
    const set = MysqlGtidSet.parse(`${U1}:1-3`);
    set.add(U1.toUpperCase(), undefined, 4n);
    set.add(U1, 'x', 1n);
    set.addRange(U2, '', 5n, 8n);
    expect(set.toString()).toBe(`${U2}:5-7,${U1}:1-4:x:1`);
    expect(set.has(U1, undefined, 4n)).toBe(true);
    expect(set.has(U1, undefined, 5n)).toBe(false);
  });
});

describe('MariaDB GTID lists', () => {
  it('parses, validates and formats domain-server-seq lists', () => {
    const list = parseMariadbGtidList(' 1-2-5, 0-1-18446744073709551615 ');
    expect(list).toEqual([
      { domainId: 1, serverId: 2, seqNo: 5n },
      { domainId: 0, serverId: 1, seqNo: 18446744073709551615n },
    ]);
    expect(formatMariadbGtidList(list)).toBe('0-1-18446744073709551615,1-2-5');
    expect(parseMariadbGtidList('')).toEqual([]);
  });

  it.each([
    ['0-1', /domain-server-sequence/],
    ['0-1-2,0-3-4', /appears twice/],
    ['0-4294967296-1', /out of range/],
    ['0-1-18446744073709551616', /out of range/],
  ])('rejects %s', (text, message) => {
    expect(() => parseMariadbGtidList(text)).toThrow(message);
  });

  it('tells MariaDB positions from MySQL sets', () => {
    expect(looksLikeMariadbGtid('0-1-100,1-2-3')).toBe(true);
    expect(looksLikeMariadbGtid(`${U1}:1-5`)).toBe(false);
  });

  it('tracks the last GTID per domain and never moves a domain backwards on advance', () => {
    const pos = new MariadbGtidPosition(parseMariadbGtidList('0-1-10'));
    pos.advance('0-1-5');
    pos.advance('1-7-3');
    expect(pos.toString()).toBe('0-1-10,1-7-3');
    pos.setText('0-2-11');
    expect(pos.toString()).toBe('0-2-11,1-7-3');
  });
});
