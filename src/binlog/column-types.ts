/**
 * Column type codes as they appear in a TABLE_MAP event's column type array, and the per-column definition the
 * row decoder hands to the value decoder.
 *
 * Spec: MySQL `include/field_types.h` (enum enum_field_types) and MariaDB `include/mysql_com.h`;
 * table map layout: https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Table__map__event.html
 */
export const ColumnType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  TYPED_ARRAY: 20,
  VECTOR: 242,
  INVALID: 243,
  BOOL: 244,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;
export type ColumnTypeCode = (typeof ColumnType)[keyof typeof ColumnType];

/**
 * Everything needed to decode one column value of a row image. Built by the TABLE_MAP decoder from the column
 * type array, the metadata block and the optional metadata (binlog_row_metadata=FULL), or from schema history
 * when the binlog lacks the optional metadata.
 */
export interface ColumnDef {
  /** 0-based position in the table. */
  readonly index: number;
  /** Column name, or `@1`, `@2`... (1-based) when neither the binlog nor schema history knows it. */
  readonly name: string;
  /**
   * The type code from the table map. For STRING columns carrying ENUM/SET (real type packed in the metadata),
   * the table-map decoder resolves the real type here, so the value decoder sees ENUM/SET directly.
   */
  readonly type: number;
  /** The type-specific metadata from the table map (0 when the type has none), already unpacked to a number. */
  readonly meta: number;
  readonly nullable: boolean;
  /** From optional metadata SIGNEDNESS; false when unknown. */
  readonly unsigned: boolean;
  /** Collation id (character set + collation) for character columns; 63 means binary. Undefined when unknown. */
  readonly collation?: number;
  /** ENUM member strings (in definition order) when known. */
  readonly enumValues?: readonly string[];
  /** SET member strings (in definition order) when known. */
  readonly setValues?: readonly string[];
  /** GEOMETRY subtype code from optional metadata, when known. */
  readonly geometryType?: number;
  /** Whether the column is part of the primary key (optional metadata SIMPLE/PRIMARY_KEY_WITH_PREFIX). */
  readonly primaryKey?: boolean;
  /** Invisible column (MySQL 8.0.23+ optional metadata COLUMN_VISIBILITY). */
  readonly visible?: boolean;
  /** The server flavour that wrote the binlog; JSON is binary on MySQL and text on MariaDB. */
  readonly flavor: 'mysql' | 'mariadb';
}

/**
 * The canonical value encoding: the exact, lossless JSON form of a column value, equal to the text a server
 * returns for `SELECT col` (FLOAT aside, see below):
 * - `null` for SQL NULL;
 * - a string for every other non-binary value: integers of any width and DECIMAL as exact decimal text (never
 *   through a JS number), DOUBLE as the server prints it (the shortest digits that read back as the same double),
 *   FLOAT as the shortest digits that read back as the same float32 (`Math.fround(Number(text))` is the stored
 *   value) in the server's number layout: the server prints only 6 significant digits, which do not always
 *   identify the value (FLOAT 123456789 is stored as 123456792, printed `123457000`, canonical `123456790`); where
 *   6 digits do, the text is the server's (values/float-text.ts), temporal values in the server's text format with
 *   the declared fractional digits (TIMESTAMP rendered in UTC), ENUM/SET as member text, character data decoded from
 *   the column charset, JSON as JSON text;
 * - `{ hex: "..." }` (upper-case hex) for binary data: BINARY/VARBINARY/BLOB, BIT, GEOMETRY, VECTOR and character
 *   columns in the binary charset. BINARY(n) is right-padded with 0x00 to n bytes, as SELECT returns it.
 * A column absent from a partial row image (binlog_row_image MINIMAL/NOBLOB) is absent, never null.
 */
export type CanonicalValue = null | string | { readonly hex: string };
