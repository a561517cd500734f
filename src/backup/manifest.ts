/**
 * dbtrail's own description of a backup, written as `manifest.json` beside the backup's files and uploaded last,
 * so a backup without a manifest is visibly incomplete. Restores depend on this, never on guessing a dump tool's
 * format. On-disk format: versioned; readers accept every earlier version (see `parseManifest`).
 */
export const MANIFEST_FORMAT = 'dbtrail-backup-manifest';
export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export type BackupTool = 'mydumper' | 'mariadb-backup' | 'xtrabackup';

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
  readonly compression: 'none' | 'gzip' | 'zstd';
  /** Encryption of the stored files; null when stored in clear. Never holds a secret key. */
  readonly encryption: null | { readonly scheme: 'age'; readonly recipients: readonly string[] };
  readonly files: readonly ManifestFile[];
}

export type Manifest = ManifestV1;
