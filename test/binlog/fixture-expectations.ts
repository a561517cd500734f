/**
 * The first row of `t.types` in mariadb/mariadb-10.11-types.000001 as SELECT returns it (the fixture README lists
 * what was written), shared by the decoder's unit test and the value tests. `vc` is left to each test.
 */
export const MARIADB_TYPES_ROW_1 = {
  id: '1',
  ti: '-128',
  tiu: '255',
  mi: '-8388608',
  miu: '16777215',
  bi: '-9223372036854775808',
  biu: '18446744073709551615',
  f: '1.5',
  d: '3.141592653589793',
  dec1: '-12345678901234567890123456789012345.123456789012345678901234567890',
  dec2: '-0.05',
  dt: '2024-02-29 23:59:59.123456',
  ts: '2038-01-19 03:14:07.999999',
  tm: '-838:59:58.999999',
  tm0: '-00:00:01',
  dte: '0000-00-00',
  yr: '0000',
  b64: { hex: 'FFFFFFFFFFFFFFFF' },
  b3: { hex: '05' },
  st: "a,c'd",
  en: "th'ree",
  ch: 'latin',
  bl: { hex: '00FF00' },
  tx: 'text',
  js: '{"a": 9007199254740993, "b": [1, 2.5, "x"], "c": null}',
  // LINESTRING SRID 4326: SRID (E6100000) then WKB.
  g: {
    hex: 'E610000001020000000200000000000000000000000000000000000000000000000000F03F000000000000F03F',
  },
  pt: { hex: '000000000101000000000000000000F83F00000000000004C0' },
  u: { hex: 'A1B2C3D4000011112222333344445555' },
  i6: { hex: '00000000000000000000FFFF01020304' },
} as const;
