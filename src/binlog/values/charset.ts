import { TextDecoder } from 'node:util';

/**
 * Character sets of MySQL and MariaDB, found from the collation id that a TABLE_MAP's optional metadata
 * (COLUMN_CHARSET / DEFAULT_CHARSET) carries for each character column, and turned into a text decoder.
 *
 * Collation ids: MariaDB 10.11 `information_schema.COLLATIONS` (ids below 2048) plus MySQL 8.0/9.x's own ids
 * (76 utf8mb3_tolower_ci, 248-250 gb18030, 255-323 the utf8mb4 *_0900_* collations; MariaDB uses none of those
 * numbers). MariaDB 10.10+ UCA-14.0 collations are numbered 2048 + 256 * k + n, with k = 0 utf8mb3, 1 utf8mb4,
 * 2 ucs2, 3 utf16, 4 utf32 (MariaDB `strings/ctype-uca.c`, `my_uca1400_collation_id`).
 *
 * Decoding follows what the server sends a utf8mb4 client for `SELECT col`:
 * - MySQL's `latin1` is Windows-1252 except that 0x81, 0x8D, 0x8F, 0x90 and 0x9D map to the C1 controls of the
 *   same number (MySQL `strings/ctype-latin1.c`, `cs_to_uni`). Node's TextDecoder treats the `windows-1252`
 *   label as ISO-8859-1, so the 0x80-0x9F row is mapped here by table;
 * - `ucs2` and `utf16` are big-endian, `utf16le` little-endian, `utf32` big-endian (no TextDecoder: done here);
 * - the other multi-byte and single-byte sets go through the WHATWG TextDecoder of the nearest encoding
 *   (`sjis`/`cp932` -> shift_jis, `ujis`/`eucjpms` -> euc-jp, `gb2312`/`gbk` -> gbk, `tis620` -> windows-874...);
 * - sets without a decoder here (dec8, hp8, swe7, keybcs2, cp850, cp852, armscii8, geostd8, macce) decode only
 *   plain ASCII bytes; otherwise `decode` returns undefined and the caller keeps the bytes as hex, so nothing is
 *   silently mangled.
 */
export interface Charset {
  /** The server's name for the character set: `utf8mb4`, `latin1`, `binary`... */
  readonly name: string;
  /** The most bytes one character takes. */
  readonly maxBytes: number;
  /** True for the `binary` pseudo character set (collation 63): the value is bytes, not text. */
  readonly binary: boolean;
  /** Decodes bytes [start, end) of `buf`; undefined when this charset cannot decode them (see above). */
  decode(buf: Buffer, start: number, end: number): string | undefined;
}

type Decode = (buf: Buffer, start: number, end: number) => string | undefined;

const decodeUtf8: Decode = (buf, start, end) => buf.toString('utf8', start, end);

/** MySQL latin1 bytes 0x80..0x9F as Unicode code points (the rest of the set is ISO-8859-1). */
const LATIN1_80_9F = [
  0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152,
  0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122,
  0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
];

const decodeLatin1: Decode = (buf, start, end) => {
  let i = start;
  while (i < end) {
    const b = buf[i] as number;
    if (b >= 0x80 && b <= 0x9f) break;
    i++;
  }
  // The common case: no byte in the row where cp1252 differs from ISO-8859-1, so Node's latin1 slice is exact.
  if (i === end) return buf.toString('latin1', start, end);
  let out = buf.toString('latin1', start, i);
  for (; i < end; i++) {
    const b = buf[i] as number;
    out += String.fromCharCode(b >= 0x80 && b <= 0x9f ? (LATIN1_80_9F[b - 0x80] as number) : b);
  }
  return out;
};

const decodeUtf32: Decode = (buf, start, end) => {
  if ((end - start) % 4 !== 0) return undefined;
  let out = '';
  for (let i = start; i < end; i += 4) {
    const cp = buf.readUInt32BE(i);
    if (cp > 0x10ffff) return undefined;
    out += String.fromCodePoint(cp);
  }
  return out;
};

function isAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((buf[i] as number) >= 0x80) return false;
  return true;
}

/** For sets without a decoder: ASCII bytes are the same in all of them. */
const decodeAsciiOnly: Decode = (buf, start, end) =>
  isAscii(buf, start, end) ? buf.toString('latin1', start, end) : undefined;

/** swe7 puts Swedish letters on some ASCII punctuation positions, so even "ASCII" needs care. */
const decodeSwe7: Decode = (buf, start, end) => {
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b >= 0x80 || b === 0x40 || (b >= 0x5b && b <= 0x5e) || b === 0x60 || (b >= 0x7b && b <= 0x7e)) {
      return undefined;
    }
  }
  return buf.toString('latin1', start, end);
};

function whatwg(label: string): Decode {
  let decoder: TextDecoder | undefined;
  return (buf, start, end) => {
    // ignoreBOM: a leading U+FEFF is data in a column, not a byte-order mark to drop.
    decoder ??= new TextDecoder(label, { ignoreBOM: true });
    return decoder.decode(buf.subarray(start, end));
  };
}

function charset(name: string, maxBytes: number, decode: Decode): Charset {
  return Object.freeze({ name, maxBytes, binary: name === 'binary', decode });
}

const CHARSETS: Readonly<Record<string, Charset>> = Object.freeze({
  big5: charset('big5', 2, whatwg('big5')),
  latin2: charset('latin2', 1, whatwg('iso-8859-2')),
  dec8: charset('dec8', 1, decodeAsciiOnly),
  cp850: charset('cp850', 1, decodeAsciiOnly),
  latin1: charset('latin1', 1, decodeLatin1),
  hp8: charset('hp8', 1, decodeAsciiOnly),
  koi8r: charset('koi8r', 1, whatwg('koi8-r')),
  swe7: charset('swe7', 1, decodeSwe7),
  ascii: charset('ascii', 1, (buf, start, end) => buf.toString('latin1', start, end)),
  ujis: charset('ujis', 3, whatwg('euc-jp')),
  sjis: charset('sjis', 2, whatwg('shift_jis')),
  cp1251: charset('cp1251', 1, whatwg('windows-1251')),
  hebrew: charset('hebrew', 1, whatwg('iso-8859-8')),
  tis620: charset('tis620', 1, whatwg('windows-874')),
  euckr: charset('euckr', 2, whatwg('euc-kr')),
  latin7: charset('latin7', 1, whatwg('iso-8859-13')),
  koi8u: charset('koi8u', 1, whatwg('koi8-u')),
  gb2312: charset('gb2312', 2, whatwg('gbk')),
  greek: charset('greek', 1, whatwg('iso-8859-7')),
  cp1250: charset('cp1250', 1, whatwg('windows-1250')),
  gbk: charset('gbk', 2, whatwg('gbk')),
  cp1257: charset('cp1257', 1, whatwg('windows-1257')),
  latin5: charset('latin5', 1, whatwg('iso-8859-9')),
  armscii8: charset('armscii8', 1, decodeAsciiOnly),
  utf8mb3: charset('utf8mb3', 3, decodeUtf8),
  ucs2: charset('ucs2', 2, whatwg('utf-16be')),
  cp866: charset('cp866', 1, whatwg('ibm866')),
  keybcs2: charset('keybcs2', 1, decodeAsciiOnly),
  macce: charset('macce', 1, decodeAsciiOnly),
  macroman: charset('macroman', 1, whatwg('macintosh')),
  cp852: charset('cp852', 1, decodeAsciiOnly),
  utf8mb4: charset('utf8mb4', 4, decodeUtf8),
  utf16: charset('utf16', 4, whatwg('utf-16be')),
  utf16le: charset('utf16le', 4, whatwg('utf-16le')),
  cp1256: charset('cp1256', 1, whatwg('windows-1256')),
  utf32: charset('utf32', 4, decodeUtf32),
  binary: charset('binary', 1, () => undefined),
  geostd8: charset('geostd8', 1, decodeAsciiOnly),
  cp932: charset('cp932', 2, whatwg('shift_jis')),
  eucjpms: charset('eucjpms', 3, whatwg('euc-jp')),
  gb18030: charset('gb18030', 4, whatwg('gb18030')),
});

/** Collation ids per character set; a pair is an inclusive range. */
const COLLATION_IDS: Readonly<Record<string, readonly (number | readonly [number, number])[]>> = {
  big5: [1, 84, 1025, 1108],
  latin2: [2, 9, 21, 27, 77, 1033, 1101],
  dec8: [3, 69, 1027, 1093],
  cp850: [4, 80, 1028, 1104],
  latin1: [5, 8, 15, 31, 47, 48, 49, 94, 1032, 1071],
  hp8: [6, 72, 1030, 1096],
  koi8r: [7, 74, 1031, 1098],
  swe7: [10, 82, 1034, 1106],
  ascii: [11, 65, 1035, 1089],
  ujis: [12, 91, 1036, 1115],
  sjis: [13, 88, 1037, 1112],
  cp1251: [14, 23, 50, 51, 52, 1074, 1075],
  hebrew: [16, 71, 1040, 1095],
  tis620: [18, 89, 1042, 1113],
  euckr: [19, 85, 1043, 1109],
  latin7: [20, 41, 42, 79, 1065, 1103],
  koi8u: [22, 75, 1046, 1099],
  gb2312: [24, 86, 1048, 1110],
  greek: [25, 70, 1049, 1094],
  cp1250: [26, 34, 44, 66, 99, 1050, 1090],
  gbk: [28, 87, 1052, 1111],
  cp1257: [29, 58, 59, 1082, 1083],
  latin5: [30, 78, 1054, 1102],
  armscii8: [32, 64, 1056, 1088],
  utf8mb3: [33, 76, 83, [192, 215], 223, [576, 578], 1057, 1107, 1216, 1238, [2048, 2303]],
  ucs2: [35, 90, [128, 151], 159, [640, 642], 1059, 1114, 1152, 1174, [2560, 2815]],
  cp866: [36, 68, 1060, 1092],
  keybcs2: [37, 73, 1061, 1097],
  macce: [38, 43, 1062, 1067],
  macroman: [39, 53, 1063, 1077],
  cp852: [40, 81, 1064, 1105],
  utf8mb4: [45, 46, [224, 247], [255, 323], [608, 610], 1069, 1070, 1248, 1270, [2304, 2559]],
  utf16: [54, 55, [101, 124], [672, 674], 1078, 1079, 1125, 1147, [2816, 3071]],
  utf16le: [56, 62, 1080, 1086],
  cp1256: [57, 67, 1081, 1091],
  utf32: [60, 61, [160, 183], [736, 738], 1084, 1085, 1184, 1206, [3072, 3327]],
  binary: [63],
  geostd8: [92, 93, 1116, 1117],
  cp932: [95, 96, 1119, 1120],
  eucjpms: [97, 98, 1121, 1122],
  gb18030: [[248, 250]],
};

const MAX_COLLATION_ID = 3328;
const BY_ID: (Charset | undefined)[] = new Array<Charset | undefined>(MAX_COLLATION_ID).fill(undefined);
for (const [name, ids] of Object.entries(COLLATION_IDS)) {
  const cs = CHARSETS[name];
  for (const entry of ids) {
    if (typeof entry === 'number') BY_ID[entry] = cs;
    else for (let id = entry[0]; id <= entry[1]; id++) BY_ID[id] = cs;
  }
}

/** The character set of a collation id, or undefined when the id is unknown. */
export function charsetForCollation(id: number): Charset | undefined {
  return id >= 0 && id < MAX_COLLATION_ID ? BY_ID[id] : undefined;
}

/** The character set with this server name (`utf8` is read as `utf8mb3`, as the server does). */
export function charsetByName(name: string): Charset | undefined {
  const key = name.toLowerCase();
  return CHARSETS[key === 'utf8' ? 'utf8mb3' : key];
}

/** The collation id of the binary pseudo character set. */
export const BINARY_COLLATION = 63;
