/**
 * What a DDL statement does to table definitions, as far as schema history needs to know: which tables it
 * creates, alters, drops or renames. Only the statement's head is parsed (MySQL `sql_yacc.yy` grammar for CREATE /
 * ALTER / DROP / RENAME / TRUNCATE TABLE, CREATE / DROP INDEX, DROP DATABASE); anything else is `other`, which
 * changes no table definition (GRANT, CREATE USER, CREATE VIEW...).
 */
export interface TableName {
  readonly schema: string;
  readonly table: string;
}

export type DdlEffect =
  | { readonly kind: 'create'; readonly table: TableName; readonly like: TableName | undefined }
  | { readonly kind: 'alter'; readonly table: TableName; readonly renamedTo: TableName | undefined }
  | { readonly kind: 'drop'; readonly tables: readonly TableName[] }
  | { readonly kind: 'rename'; readonly pairs: readonly { from: TableName; to: TableName }[] }
  | { readonly kind: 'truncate'; readonly table: TableName }
  | { readonly kind: 'drop_schema'; readonly schema: string }
  | { readonly kind: 'other' };

/** Tokenizer over the statement: identifiers (quoted or bare), punctuation; comments and whitespace skipped. */
class Tokens {
  readonly #text: string;
  #pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  #skipSpace(): void {
    const t = this.#text;
    for (;;) {
      while (this.#pos < t.length && /\s/.test(t[this.#pos] as string)) this.#pos++;
      if (t.startsWith('/*', this.#pos)) {
        // Executable comments `/*!50100 ... */` hold statement text: treat their body as text.
        const m = /^\/\*[!M]!?\d*/.exec(t.slice(this.#pos, this.#pos + 10));
        if (m !== null && (m[0].includes('!') || m[0].startsWith('/*M'))) {
          this.#pos += m[0].length;
          continue;
        }
        const end = t.indexOf('*/', this.#pos + 2);
        this.#pos = end === -1 ? t.length : end + 2;
        continue;
      }
      if (t.startsWith('*/', this.#pos)) {
        this.#pos += 2;
        continue;
      }
      if (t.startsWith('-- ', this.#pos) || t[this.#pos] === '#') {
        const end = t.indexOf('\n', this.#pos);
        this.#pos = end === -1 ? t.length : end + 1;
        continue;
      }
      return;
    }
  }

  /** The next token: `{ quoted: true }` for a backtick identifier, so a keyword in backticks is a name. */
  next(): { text: string; quoted: boolean } | undefined {
    this.#skipSpace();
    const t = this.#text;
    if (this.#pos >= t.length) return undefined;
    const c = t[this.#pos] as string;
    if (c === '`' || c === '"') {
      let out = '';
      let i = this.#pos + 1;
      for (; i < t.length; i++) {
        if (t[i] === c) {
          if (t[i + 1] === c) {
            out += c;
            i++;
            continue;
          }
          break;
        }
        out += t[i];
      }
      this.#pos = i + 1;
      return { text: out, quoted: true };
    }
    const m = /^[A-Za-z0-9_$\u0080-\uffff]+/.exec(t.slice(this.#pos));
    if (m !== null) {
      this.#pos += m[0].length;
      return { text: m[0], quoted: false };
    }
    this.#pos++;
    return { text: c, quoted: false };
  }

  peek(): { text: string; quoted: boolean } | undefined {
    const save = this.#pos;
    const tok = this.next();
    this.#pos = save;
    return tok;
  }

  /** Consumes the keyword (case-insensitive, unquoted) when it comes next. */
  accept(...words: string[]): boolean {
    const tok = this.peek();
    if (tok === undefined || tok.quoted) return false;
    if (!words.includes(tok.text.toUpperCase())) return false;
    this.next();
    return true;
  }
}

function tableName(tokens: Tokens, defaultSchema: string): TableName | undefined {
  const first = tokens.next();
  if (first === undefined || (!first.quoted && !/^[A-Za-z0-9_$\u0080-\uffff]+$/.test(first.text))) {
    return undefined;
  }
  const dot = tokens.peek();
  if (dot?.text === '.' && !dot.quoted) {
    tokens.next();
    const second = tokens.next();
    if (second === undefined) return undefined;
    return { schema: first.text, table: second.text };
  }
  return { schema: defaultSchema, table: first.text };
}

/** Parses the effect of `statement`, run with `defaultSchema` as the current database (the QUERY event's schema). */
export function parseDdl(statement: string, defaultSchema: string): DdlEffect {
  const tokens = new Tokens(statement);
  if (tokens.accept('CREATE')) {
    if (tokens.accept('OR')) tokens.accept('REPLACE');
    // Temporary tables are session-local and never in a row-based binlog's rows; one may shadow a real table.
    if (tokens.accept('TEMPORARY')) return { kind: 'other' };
    if (tokens.accept('TABLE')) {
      if (tokens.accept('IF')) {
        tokens.accept('NOT');
        tokens.accept('EXISTS');
      }
      const table = tableName(tokens, defaultSchema);
      if (table === undefined) return { kind: 'other' };
      let like: TableName | undefined;
      tokens.accept('(');
      if (tokens.accept('LIKE')) like = tableName(tokens, defaultSchema);
      return { kind: 'create', table, like };
    }
    tokens.accept('UNIQUE', 'FULLTEXT', 'SPATIAL');
    if (tokens.accept('INDEX', 'KEY')) return indexOn(tokens, defaultSchema);
    if (tokens.accept('DATABASE', 'SCHEMA')) return { kind: 'other' };
    return { kind: 'other' };
  }
  if (tokens.accept('ALTER')) {
    tokens.accept('ONLINE');
    tokens.accept('IGNORE');
    if (!tokens.accept('TABLE')) return { kind: 'other' };
    if (tokens.accept('IF')) tokens.accept('EXISTS');
    const table = tableName(tokens, defaultSchema);
    if (table === undefined) return { kind: 'other' };
    return { kind: 'alter', table, renamedTo: alterRename(statement, table.schema) };
  }
  if (tokens.accept('DROP')) {
    if (tokens.accept('TEMPORARY')) return { kind: 'other' };
    if (tokens.accept('TABLE', 'TABLES')) {
      if (tokens.accept('IF')) tokens.accept('EXISTS');
      const tables: TableName[] = [];
      for (;;) {
        const t = tableName(tokens, defaultSchema);
        if (t === undefined) break;
        tables.push(t);
        if (!tokens.accept(',')) break;
      }
      return tables.length === 0 ? { kind: 'other' } : { kind: 'drop', tables };
    }
    if (tokens.accept('INDEX')) return indexOn(tokens, defaultSchema);
    if (tokens.accept('DATABASE', 'SCHEMA')) {
      if (tokens.accept('IF')) tokens.accept('EXISTS');
      const name = tokens.next();
      return name === undefined ? { kind: 'other' } : { kind: 'drop_schema', schema: name.text };
    }
    return { kind: 'other' };
  }
  if (tokens.accept('RENAME')) {
    if (!tokens.accept('TABLE', 'TABLES')) return { kind: 'other' };
    const pairs: { from: TableName; to: TableName }[] = [];
    for (;;) {
      const from = tableName(tokens, defaultSchema);
      if (from === undefined || !tokens.accept('TO')) break;
      const to = tableName(tokens, defaultSchema);
      if (to === undefined) break;
      pairs.push({ from, to });
      if (!tokens.accept(',')) break;
    }
    return pairs.length === 0 ? { kind: 'other' } : { kind: 'rename', pairs };
  }
  if (tokens.accept('TRUNCATE')) {
    tokens.accept('TABLE');
    const table = tableName(tokens, defaultSchema);
    return table === undefined ? { kind: 'other' } : { kind: 'truncate', table };
  }
  return { kind: 'other' };
}

/** `CREATE/DROP INDEX name ON table`: treated as an ALTER of the table (it may change the primary key). */
function indexOn(tokens: Tokens, defaultSchema: string): DdlEffect {
  if (tokens.accept('IF')) {
    tokens.accept('NOT');
    tokens.accept('EXISTS');
  }
  tokens.next();
  // Index type between name and ON: `USING BTREE`.
  if (tokens.accept('USING')) tokens.next();
  if (!tokens.accept('ON')) return { kind: 'other' };
  const table = tableName(tokens, defaultSchema);
  return table === undefined ? { kind: 'other' } : { kind: 'alter', table, renamedTo: undefined };
}

/** `ALTER TABLE t ..., RENAME [TO|AS] s.u`: the new name, when the statement renames. */
function alterRename(statement: string, defaultSchema: string): TableName | undefined {
  const m =
    /\bRENAME\s+(?:TO\s+|AS\s+)?(?!(?:COLUMN|INDEX|KEY)\b)((?:`(?:[^`]|``)+`|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)+`|[\w$]+))?)/i.exec(
      statement,
    );
  if (m === null) return undefined;
  return tableName(new Tokens(m[1] as string), defaultSchema);
}
