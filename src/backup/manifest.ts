/**
 * dbtrail's own description of a backup, written as `manifest.json` beside the backup's files and uploaded last,
 * so a backup without a manifest is visibly incomplete. Restores depend on this, never on guessing a dump tool's
 * format. On-disk format: versioned; readers accept every earlier version (see `parseManifest`).
 */
import { isSha256Hex, keyProblem } from '../objects/store.js';
import { ManifestError } from './errors.js';
import type { ManifestSignature, ManifestSigner } from './signing.js';

export const MANIFEST_FORMAT = 'dbtrail-backup-manifest';
/** Version 2 added the Ed25519 `signature` member (src/backup/signing.ts); everything else is as in version 1. */
export const MANIFEST_VERSION = 2;
export const MANIFEST_FILE = 'manifest.json';

export type BackupTool = 'mydumper' | 'mariadb-backup' | 'xtrabackup';
export const BACKUP_TOOLS: readonly BackupTool[] = ['mydumper', 'mariadb-backup', 'xtrabackup'];

/** Compression applied by the dump tool to its files. */
export type Compression = 'none' | 'gzip' | 'zstd';
export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'zstd'];

/**
 * Encryption of the stored files: every file is an age file (stored name + `.age`) readable by any of the X25519
 * recipients' identities. Never holds a secret key.
 */
export interface ManifestEncryption {
  readonly scheme: 'age';
  readonly recipients: readonly string[];
}

export interface Coordinates {
  /** Binlog file name, e.g. `binlog.000042`. */
  readonly file: string;
  /** Byte position in that file (exact integer; binlog positions stay below 2^53). */
  readonly position: number;
  /** GTID set at that point: MySQL `uuid:1-42,...` or MariaDB `0-1-100,...`; null when the server has none. */
  readonly gtid: string | null;
}

export interface ManifestFile {
  /** Path relative to the backup root, with forward slashes. */
  readonly path: string;
  /** Size in bytes of the stored (compressed and/or encrypted) bytes. */
  readonly size: number;
  /** Lower-case hex SHA-256 of the stored bytes. */
  readonly sha256: string;
}

export interface ManifestV1 {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: 1;
  readonly backup_id: string;
  readonly tenant: string;
  readonly server_name: string;
  readonly kind: 'logical' | 'physical';
  readonly tool: { readonly name: BackupTool; readonly version: string };
  /** Identity of the dumped server, checked against the tracked server's identity. */
  readonly server: {
    readonly flavor: 'mysql' | 'mariadb';
    readonly version: string;
    readonly server_id: number;
    readonly server_uuid: string | null;
    readonly hostname: string;
  };
  /** ISO-8601 UTC timestamps of the dump step. */
  readonly started_at: string;
  readonly finished_at: string;
  readonly coordinates: Coordinates;
  readonly filters: { readonly schemas: readonly string[] | null; readonly tables: readonly string[] | null };
  /** Compression applied by the dump tool to its files. */
  readonly compression: Compression;
  /** Encryption of the stored files; null when stored in clear. Never holds a secret key. */
  readonly encryption: null | ManifestEncryption;
  readonly files: readonly ManifestFile[];
}

/** Version 1 plus a signature over the canonical bytes of everything else (see src/backup/signing.ts). */
export interface ManifestV2 extends Omit<ManifestV1, 'version'> {
  readonly version: 2;
  readonly signature: ManifestSignature;
}

export type Manifest = ManifestV1 | ManifestV2;

/**
 * Parses and validates `manifest.json` text of any version this dbtrail knows (today: 1), so a restore never
 * proceeds on a manifest that is missing a field it relies on. `source` names where the text came from.
 * Unknown extra fields are allowed (a newer minor addition); a newer *version* is refused with advice.
 */
export function parseManifest(text: string, source = MANIFEST_FILE): Manifest {
  const fail = (detail: string, cause?: unknown): never => {
    throw new ManifestError(`Cannot read backup manifest ${source}: ${detail}`, {
      fields: { source },
      ...(cause !== undefined ? { cause } : {}),
    });
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${err instanceof Error ? err.message : String(err)})`, err);
  }
  const root = record(value, 'the top level', fail);
  if (root['format'] !== MANIFEST_FORMAT) {
    return fail(`format is ${JSON.stringify(root['format'])}, expected "${MANIFEST_FORMAT}"`);
  }
  const version = root['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return fail(`version is ${JSON.stringify(version)}, expected a positive whole number`);
  }
  if (version > MANIFEST_VERSION) {
    return fail(
      `version ${version} is newer than this dbtrail reads (up to ${MANIFEST_VERSION}); upgrade dbtrail`,
    );
  }
  const v1 = parseV1(root, fail);
  if (version === 1) return v1;
  // Version 2: the same fields plus the signature member. Its shape is checked here; whether it holds is for
  // checkManifestSignature (src/backup/signing.ts), which needs the stored bytes and the trusted keys.
  const sig = record(root['signature'], 'signature', fail);
  const sigStr = (key: string): string => {
    const v = sig[key];
    if (typeof v !== 'string' || v === '')
      fail(`signature.${key} is ${JSON.stringify(v)}, expected a string`);
    return v as string;
  };
  if (sig['algorithm'] !== 'ed25519') {
    fail(`signature.algorithm is ${JSON.stringify(sig['algorithm'])}, expected "ed25519"`);
  }
  return {
    ...v1,
    version: 2,
    signature: {
      algorithm: 'ed25519',
      key_id: sigStr('key_id'),
      public_key: sigStr('public_key'),
      value: sigStr('value'),
    },
  };
}

type Fail = (detail: string) => never;

function parseV1(root: Record<string, unknown>, fail: Fail): ManifestV1 {
  const str = (obj: Record<string, unknown>, key: string, where: string): string => {
    const v = obj[key];
    if (typeof v !== 'string' || v === '')
      fail(`${where}${key} is ${JSON.stringify(v)}, expected a non-empty string`);
    return v;
  };
  const strOrNull = (obj: Record<string, unknown>, key: string, where: string): string | null => {
    const v = obj[key];
    if (v === null) return null;
    if (typeof v !== 'string') fail(`${where}${key} is ${JSON.stringify(v)}, expected a string or null`);
    return v;
  };
  const count = (obj: Record<string, unknown>, key: string, where: string): number => {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      fail(`${where}${key} is ${JSON.stringify(v)}, expected a whole number of at least 0`);
    }
    return v;
  };
  const oneOf = <T extends string>(
    obj: Record<string, unknown>,
    key: string,
    allowed: readonly T[],
    where: string,
  ): T => {
    const v = obj[key];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      fail(`${where}${key} is ${JSON.stringify(v)}, expected one of ${allowed.join(', ')}`);
    }
    return v as T;
  };
  const time = (obj: Record<string, unknown>, key: string): string => {
    const v = str(obj, key, '');
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) || Number.isNaN(Date.parse(v))) {
      fail(`${key} is "${v}", expected an ISO-8601 UTC time like 2024-01-31T02:00:00.000Z`);
    }
    return v;
  };
  const list = (obj: Record<string, unknown>, key: string, where: string): string[] | null => {
    const v = obj[key];
    if (v === null) return null;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
      fail(`${where}${key} is ${JSON.stringify(v)}, expected null or a list of names`);
    }
    return v as string[];
  };

  const tool = record(root['tool'], 'tool', fail);
  const server = record(root['server'], 'server', fail);
  const coords = record(root['coordinates'], 'coordinates', fail);
  const filters = record(root['filters'], 'filters', fail);
  const position = count(coords, 'position', 'coordinates.');
  if (position < 4) fail(`coordinates.position is ${position}, expected at least 4 (the binlog header)`);
  const serverId = count(server, 'server_id', 'server.');
  if (serverId > 0xffffffff) fail(`server.server_id is ${serverId}, expected at most 4294967295`);

  let encryption: ManifestEncryption | null = null;
  if (root['encryption'] !== null) {
    const enc = record(root['encryption'], 'encryption', fail);
    if (enc['scheme'] !== 'age')
      fail(`encryption.scheme is ${JSON.stringify(enc['scheme'])}, expected "age"`);
    const recipients = enc['recipients'];
    if (
      !Array.isArray(recipients) ||
      recipients.length === 0 ||
      recipients.some((r) => typeof r !== 'string' || !r.startsWith('age1'))
    ) {
      fail('encryption.recipients must be a non-empty list of age recipients (age1...)');
    }
    encryption = { scheme: 'age', recipients: recipients as string[] };
  }

  const filesValue = root['files'];
  if (!Array.isArray(filesValue)) fail('files is missing or not a list');
  const seen = new Set<string>();
  const files: ManifestFile[] = (filesValue as unknown[]).map((item, i) => {
    const f = record(item, `files[${i}]`, fail);
    const path = str(f, 'path', `files[${i}].`);
    const problem = keyProblem(path, false);
    if (problem !== undefined) fail(`files[${i}].path "${path}" is not a safe relative path: ${problem}`);
    if (path === MANIFEST_FILE) fail(`files[${i}].path is the manifest itself`);
    if (seen.has(path)) fail(`files[${i}].path "${path}" is listed twice`);
    seen.add(path);
    if (encryption !== null && !path.endsWith('.age'))
      fail(`files[${i}].path "${path}" lacks .age but the backup is encrypted`);
    const size = count(f, 'size', `files[${i}].`);
    const sha256 = str(f, 'sha256', `files[${i}].`);
    if (!isSha256Hex(sha256)) fail(`files[${i}].sha256 for "${path}" is not a lower-case hex SHA-256`);
    return { path, size, sha256 };
  });

  return {
    format: MANIFEST_FORMAT,
    version: 1,
    backup_id: str(root, 'backup_id', ''),
    tenant: str(root, 'tenant', ''),
    server_name: str(root, 'server_name', ''),
    kind: oneOf(root, 'kind', ['logical', 'physical'] as const, ''),
    tool: { name: oneOf(tool, 'name', BACKUP_TOOLS, 'tool.'), version: str(tool, 'version', 'tool.') },
    server: {
      flavor: oneOf(server, 'flavor', ['mysql', 'mariadb'] as const, 'server.'),
      version: str(server, 'version', 'server.'),
      server_id: serverId,
      server_uuid: strOrNull(server, 'server_uuid', 'server.'),
      hostname:
        typeof server['hostname'] === 'string' ? server['hostname'] : fail('server.hostname is not a string'),
    },
    started_at: time(root, 'started_at'),
    finished_at: time(root, 'finished_at'),
    coordinates: {
      file: str(coords, 'file', 'coordinates.'),
      position,
      gtid: strOrNull(coords, 'gtid', 'coordinates.'),
    },
    filters: { schemas: list(filters, 'schemas', 'filters.'), tables: list(filters, 'tables', 'filters.') },
    compression: oneOf(root, 'compression', COMPRESSIONS, ''),
    encryption,
    files,
  };
}

function record(value: unknown, where: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(`${where} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The version 2 form of a manifest: the signature covers every other member, `version: 2` included. */
export function signManifest(manifest: ManifestV1, signer: ManifestSigner): ManifestV2 {
  const body = { ...manifest, version: 2 as const };
  return { ...body, signature: signer.sign(body) };
}

/** The manifest as written to disk: stable key order, two-space indent, trailing newline. */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
