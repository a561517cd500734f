import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The one typed configuration schema. Every setting is declared once here with its type, default, environment
 * variable and validation; sources are layered defaults < config file < environment < flags by `loadConfig`.
 * This table is public surface: renaming a key or an environment variable is a breaking change.
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'auto' | 'pretty' | 'json';

export interface Config {
  /** DBTRAIL_HOME: holds config.json, the embedded SQLite state and the default local object store. */
  readonly home: string;
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  /** Where state lives: `sqlite:PATH` (default `sqlite:<home>/dbtrail.db`) or `postgres://...`. */
  readonly stateUrl: string;
  /** Where objects live: `file:///path` (default `<home>/objects`) or `s3://bucket/prefix`. */
  readonly objectsUrl: string;
  readonly s3: {
    readonly endpoint: string | undefined;
    readonly region: string;
    readonly forcePathStyle: boolean;
    /** Server-side encryption: `AES256` or `aws:kms`; undefined leaves it to the bucket policy. */
    readonly sse: string | undefined;
    readonly sseKmsKeyId: string | undefined;
  };
  readonly source: {
    /** Default DSN for commands that talk to a tracked server; may carry no password. */
    readonly dsn: string | undefined;
    /** Path of a file whose first line is the source password. */
    readonly passwordFile: string | undefined;
    /** The source password, from DBTRAIL_SOURCE_PASSWORD only: never from a flag (argv is world-readable). */
    readonly password: string | undefined;
  };
  readonly tenant: string;
  readonly server: { readonly listen: string };
  /**
   * File with the key that encrypts server passwords at rest; undefined means `<home>/secret.key`, created on
   * first use. Set it to the same file on every host that shares one state store.
   */
  readonly secretKeyFile: string | undefined;
  /**
   * Manifest signing (src/backup/signing.ts): the Ed25519 private key file (undefined means
   * `<home>/keys/manifest-signing.pem`, created on first use, mode 0600) and the file of other trusted public keys
   * (undefined means `<home>/keys/trusted-signing-keys`).
   */
  readonly signing: { readonly keyFile: string | undefined; readonly trustedKeysFile: string | undefined };
  /** Where the control plane POSTs events (backup failed, schedule unhealthy or recovered); none by default. */
  readonly notify: { readonly webhookUrl: string | undefined };
  /**
   * The raw binlog archive of stream capture (src/archive): on by default; a segment is closed and uploaded at
   * most `intervalSeconds` after its first transaction (the archive's RPO) or at `maxSegmentMb`. Numbers as text.
   */
  readonly archive: {
    readonly enabled: boolean;
    readonly intervalSeconds: string;
    readonly maxSegmentMb: string;
  };
}

export type SettingType = 'string' | 'boolean' | 'enum';

export interface Setting {
  /** Dotted path in Config, also the key in config.json (nested objects). */
  readonly key: string;
  readonly type: SettingType;
  readonly env: string;
  readonly values?: readonly string[];
  /** Secrets are redacted in `dbtrail config show` and logs, and cannot be set by a flag. */
  readonly secret?: boolean;
  readonly description: string;
  readonly default: (home: string) => string | boolean | undefined;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'log.level',
    type: 'enum',
    env: 'DBTRAIL_LOG_LEVEL',
    values: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
    description: 'Log level',
    default: () => 'info',
  },
  {
    key: 'log.format',
    type: 'enum',
    env: 'DBTRAIL_LOG_FORMAT',
    values: ['auto', 'pretty', 'json'],
    description: 'Log format: auto is human-readable on a terminal and JSON otherwise',
    default: () => 'auto',
  },
  {
    key: 'stateUrl',
    type: 'string',
    env: 'DBTRAIL_STATE_URL',
    description: 'State store: sqlite:PATH or postgres://...',
    default: (home) => `sqlite:${join(home, 'dbtrail.db')}`,
  },
  {
    key: 'objectsUrl',
    type: 'string',
    env: 'DBTRAIL_OBJECTS_URL',
    description: 'Object store: file:///path or s3://bucket/prefix',
    default: (home) => `file://${join(home, 'objects')}`,
  },
  {
    key: 's3.endpoint',
    type: 'string',
    env: 'DBTRAIL_S3_ENDPOINT',
    description: 'S3 endpoint URL for S3-compatible stores',
    default: () => undefined,
  },
  {
    key: 's3.region',
    type: 'string',
    env: 'DBTRAIL_S3_REGION',
    description: 'S3 region',
    default: () => process.env['AWS_REGION'] ?? 'us-east-1',
  },
  {
    key: 's3.forcePathStyle',
    type: 'boolean',
    env: 'DBTRAIL_S3_FORCE_PATH_STYLE',
    description: 'Use path-style S3 addressing',
    default: () => false,
  },
  {
    key: 's3.sse',
    type: 'enum',
    env: 'DBTRAIL_S3_SSE',
    values: ['AES256', 'aws:kms'],
    description: 'S3 server-side encryption',
    default: () => undefined,
  },
  {
    key: 's3.sseKmsKeyId',
    type: 'string',
    env: 'DBTRAIL_S3_SSE_KMS_KEY_ID',
    description: 'KMS key id for aws:kms server-side encryption',
    default: () => undefined,
  },
  {
    key: 'source.dsn',
    type: 'string',
    env: 'DBTRAIL_SOURCE_DSN',
    description: 'Default source DSN (mysql://user@host:port)',
    default: () => undefined,
  },
  {
    key: 'source.passwordFile',
    type: 'string',
    env: 'DBTRAIL_SOURCE_PASSWORD_FILE',
    description: 'File holding the source password',
    default: () => undefined,
  },
  {
    key: 'source.password',
    type: 'string',
    env: 'DBTRAIL_SOURCE_PASSWORD',
    secret: true,
    description: 'Source password (environment only)',
    default: () => undefined,
  },
  {
    key: 'tenant',
    type: 'string',
    env: 'DBTRAIL_TENANT',
    description: 'Tenant name used in object paths for CLI-driven backups',
    default: () => 'default',
  },
  {
    key: 'server.listen',
    type: 'string',
    env: 'DBTRAIL_LISTEN',
    description: 'Address the HTTP server listens on',
    default: () => '127.0.0.1:8420',
  },
  {
    key: 'secretKeyFile',
    type: 'string',
    env: 'DBTRAIL_SECRET_KEY_FILE',
    description: 'File with the key encrypting server passwords at rest (default <home>/secret.key)',
    default: () => undefined,
  },
  {
    key: 'signing.keyFile',
    type: 'string',
    env: 'DBTRAIL_SIGNING_KEY_FILE',
    description: 'Ed25519 key file that signs backup manifests (default <home>/keys/manifest-signing.pem)',
    default: () => undefined,
  },
  {
    key: 'signing.trustedKeysFile',
    type: 'string',
    env: 'DBTRAIL_TRUSTED_KEYS_FILE',
    description:
      'File of further trusted manifest signing public keys, one per line (default <home>/keys/trusted-signing-keys)',
    default: () => undefined,
  },
  {
    key: 'notify.webhookUrl',
    type: 'string',
    env: 'DBTRAIL_WEBHOOK_URL',
    description: 'URL the server POSTs JSON events to: backup failed, schedule unhealthy, schedule recovered',
    default: () => undefined,
  },
  {
    key: 'archive.enabled',
    type: 'boolean',
    env: 'DBTRAIL_ARCHIVE',
    description: 'Stream capture also archives the raw binlog as segments in the object store',
    default: () => true,
  },
  {
    key: 'archive.intervalSeconds',
    type: 'string',
    env: 'DBTRAIL_ARCHIVE_INTERVAL_SECONDS',
    description:
      'Longest time a binlog segment stays open before it is uploaded (the archive RPO), in seconds',
    default: () => '60',
  },
  {
    key: 'archive.maxSegmentMb',
    type: 'string',
    env: 'DBTRAIL_ARCHIVE_MAX_SEGMENT_MB',
    description: 'Size at which a binlog segment is closed early, in MiB',
    default: () => '64',
  },
];

export function defaultHome(env: NodeJS.ProcessEnv): string {
  return env['DBTRAIL_HOME'] ?? join(homedir(), '.dbtrail');
}
