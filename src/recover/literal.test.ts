import { describe, expect, it } from 'vitest';
import { RecoverGenerateError } from './errors.js';
import {
  bitLiteral,
  columnKind,
  doubleLiteral,
  escapeString,
  quoteIdent,
  sqlLiteral,
  sqlMatch,
  type ColumnShape,
} from './literal.js';

const col = (type: string, name = 'c'): ColumnShape => ({ name, type, kind: columnKind(type) });

describe('columnKind', () => {
  it('classifies COLUMN_TYPE texts of every family', () => {
    const cases: [string, string][] = [
      ['tinyint(4)', 'integer'],
      ['int(10) unsigned zerofill', 'integer'],
      ['bigint(20) unsigned', 'integer'],
      ['decimal(65,30)', 'decimal'],
      ['float', 'float'],
      ['float(7,4)', 'float'],
      ['float(30)', 'double'],
      ['double', 'double'],
      ['double(10,2) unsigned', 'double'],
      ['bit(10)', 'bit'],
      ['year(4)', 'year'],
      ['date', 'temporal'],
      ['time(4)', 'temporal'],
      ['datetime(6)', 'temporal'],
      ['timestamp(3)', 'timestamp'],
      ['varchar(20)', 'string'],
      ['char(5)', 'string'],
      ['longtext', 'string'],
      ["enum('a','b''c')", 'string'],
      ["set('x','y')", 'string'],
      ['json', 'json'],
      ['varbinary(16)', 'binary'],
      ['binary(5)', 'binary'],
      ['blob', 'binary'],
      ['geometry', 'binary'],
      ['point', 'binary'],
      ['uuid', 'binary'],
      ['inet6', 'binary'],
    ];
    for (const [type, kind] of cases) expect([type, columnKind(type)]).toEqual([type, kind]);
  });
});

describe('sqlLiteral: exact for every type', () => {
  it('writes integers and DECIMAL bare, from the exact text (never through a JS number)', () => {
    expect(sqlLiteral('18446744073709551615', col('bigint(20) unsigned'), 'mariadb')).toBe(
      '18446744073709551615',
    );
    expect(sqlLiteral('-9223372036854775808', col('bigint(20)'), 'mariadb')).toBe('-9223372036854775808');
    expect(sqlLiteral('9007199254740993', col('bigint(20)'), 'mysql')).toBe('9007199254740993');
    expect(
      sqlLiteral(
        '-99999999999999999999999999999999999.999999999999999999999999999999',
        col('decimal(65,30)'),
        'mariadb',
      ),
    ).toBe('-99999999999999999999999999999999999.999999999999999999999999999999');
    expect(sqlLiteral('-0.00', col('decimal(10,2)'), 'mariadb')).toBe('-0.00');
    expect(sqlLiteral('2155', col('year(4)'), 'mariadb')).toBe('2155');
    expect(sqlLiteral('0000', col('year(4)'), 'mariadb')).toBe('0000');
  });

  it('refuses text that is not what a numeric column holds', () => {
    expect(() => sqlLiteral('1; DROP TABLE x', col('int(11)'), 'mariadb')).toThrow(RecoverGenerateError);
    expect(() => sqlLiteral('1e5', col('decimal(10,2)'), 'mariadb')).toThrow(
      'Cannot write a literal for column c (decimal(10,2)): expected a decimal number, got "1e5"',
    );
    expect(() => sqlLiteral('NaN', col('double'), 'mariadb')).toThrow(/expected a finite number/);
    expect(() => sqlLiteral('', col('float'), 'mariadb')).toThrow(/expected a finite number/);
    expect(() => sqlLiteral({ hex: 'ABC' }, col('blob'), 'mariadb')).toThrow(/expected hex digits/);
  });

  it('writes FLOAT as the stored float32 widened to double, DOUBLE as itself, with an exponent', () => {
    // 0.1 as float32 is 0.100000001490116...: the literal must be that double, or `col = literal` never holds.
    expect(sqlLiteral('0.1', col('float'), 'mariadb')).toBe('0.10000000149011612E0');
    expect(sqlLiteral('16777216', col('float'), 'mariadb')).toBe('16777216E0');
    expect(sqlLiteral('3.4028235e38', col('float'), 'mariadb')).toBe('3.4028234663852886E+38');
    expect(sqlLiteral('1.17549435e-38', col('float'), 'mariadb')).toBe('1.1754943508222875E-38');
    expect(sqlLiteral('0.30000000000000004', col('double'), 'mariadb')).toBe('0.30000000000000004E0');
    expect(sqlLiteral('-1.7976931348623157e308', col('double'), 'mariadb')).toBe('-1.7976931348623157E+308');
    expect(sqlLiteral('5e-324', col('double'), 'mariadb')).toBe('5E-324');
    expect(sqlLiteral('-0', col('double'), 'mariadb')).toBe('-0E0');
    expect(sqlLiteral('1e20', col('double'), 'mariadb')).toBe('100000000000000000000E0');
    // Every literal parses back to the same double.
    for (const text of ['0.1', '123456789012345678', '2.2250738585072014e-308', '1234567890123456.7']) {
      expect(Number(sqlLiteral(text, col('double'), 'mysql'))).toBe(Number(text));
    }
    for (const text of ['0.1', '16777217', '3.14159265', '1e-5', '999999.5']) {
      expect(Number(sqlLiteral(text, col('float'), 'mysql'))).toBe(Math.fround(Number(text)));
    }
  });

  it('quotes temporal values with every fractional digit; TIMESTAMP text is UTC', () => {
    expect(sqlLiteral('9999-12-31 23:59:59.999999', col('datetime(6)'), 'mariadb')).toBe(
      "'9999-12-31 23:59:59.999999'",
    );
    expect(sqlLiteral('-838:59:58.999999', col('time(6)'), 'mariadb')).toBe("'-838:59:58.999999'");
    expect(sqlLiteral('0000-00-00', col('date'), 'mariadb')).toBe("'0000-00-00'");
    expect(sqlLiteral('2038-01-19 03:14:07.9999', col('timestamp(4)'), 'mysql')).toBe(
      "'2038-01-19 03:14:07.9999'",
    );
  });

  it('writes bytes as X literals and BIT as b literals', () => {
    expect(sqlLiteral({ hex: '00ff0000' }, col('varbinary(20)'), 'mariadb')).toBe("X'00FF0000'");
    expect(sqlLiteral({ hex: '' }, col('blob'), 'mariadb')).toBe("X''");
    expect(sqlLiteral({ hex: '03FF' }, col('bit(10)'), 'mariadb')).toBe("b'0000001111111111'");
    expect(sqlLiteral({ hex: '00' }, col('bit(1)'), 'mariadb')).toBe("b'00000000'");
    expect(bitLiteral('')).toBe("b'0'");
    expect(sqlLiteral({ hex: '000000000101000000000000000000F03F' }, col('geometry'), 'mysql')).toBe(
      "X'000000000101000000000000000000F03F'",
    );
  });

  it('writes strings with the utf8mb4 introducer and full escaping', () => {
    expect(sqlLiteral("it's a \\ test", col('varchar(20)'), 'mariadb')).toBe("_utf8mb4'it''s a \\\\ test'");
    expect(escapeString('a\u0000b\nc\rd\u001ae')).toBe('a\\0b\\nc\\rd\\Ze');
    expect(escapeString('plain 😀 ü')).toBe('plain 😀 ü');
    // latin1, gbk, utf16 columns: the server converts the Unicode literal into the column's charset.
    expect(sqlLiteral('é€', col('varchar(20)'), 'mariadb')).toBe("_utf8mb4'é€'");
    expect(sqlLiteral("x,y'z", col("set('x','y''z')"), 'mariadb')).toBe("_utf8mb4'x,y''z'");
  });

  it('writes JSON as text on MariaDB and as CAST(.. AS JSON) on MySQL', () => {
    const j = '{"a": [1, 2.5, "x\\"y"]}';
    expect(sqlLiteral(j, col('longtext'), 'mariadb')).toBe(`_utf8mb4'{"a": [1, 2.5, "x\\\\"y"]}'`);
    expect(sqlLiteral(j, col('json'), 'mysql')).toBe(`CAST(_utf8mb4'{"a": [1, 2.5, "x\\\\"y"]}' AS JSON)`);
    expect(sqlLiteral(null, col('json'), 'mysql')).toBe('NULL');
  });
});

describe('sqlMatch', () => {
  it('compares NULL with IS NULL, never =', () => {
    expect(sqlMatch(null, col('int(11)', 'n'), 'mariadb')).toBe('`n` IS NULL');
  });

  it('compares strings in a binary NO PAD collation, keeping the plain form for key columns', () => {
    expect(sqlMatch('abc', col('varchar(10)', 's'), 'mariadb')).toBe(
      "`s` = _utf8mb4'abc' COLLATE utf8mb4_nopad_bin",
    );
    expect(sqlMatch('abc', col('varchar(10)', 's'), 'mysql')).toBe(
      "`s` = _utf8mb4'abc' COLLATE utf8mb4_0900_bin",
    );
    expect(sqlMatch('abc', col('varchar(10)', 'k'), 'mariadb', true)).toBe(
      "`k` = _utf8mb4'abc' AND `k` = _utf8mb4'abc' COLLATE utf8mb4_nopad_bin",
    );
  });

  it('compares numbers, bytes and floats exactly', () => {
    expect(sqlMatch('42', col('bigint(20)', 'id'), 'mariadb', true)).toBe('`id` = 42');
    expect(sqlMatch('0.1', col('float', 'f'), 'mariadb')).toBe('`f` = 0.10000000149011612E0');
    expect(sqlMatch({ hex: '0A' }, col('varbinary(4)', 'b'), 'mariadb')).toBe("`b` = X'0A'");
    expect(sqlMatch('{"a": 1}', col('json', 'j'), 'mysql')).toBe(`\`j\` = CAST(_utf8mb4'{"a": 1}' AS JSON)`);
  });

  it('quotes identifiers with backticks doubled', () => {
    expect(quoteIdent('we`ird')).toBe('`we``ird`');
    expect(doubleLiteral(1.5)).toBe('1.5E0');
  });
});
