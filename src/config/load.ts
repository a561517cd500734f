import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { messageOf } from '../lib/errors.js';
import { ConfigError } from './errors.js';
import { SETTINGS, defaultHome, type Config, type Setting } from './schema.js';

export interface ConfigSources {
  readonly env: NodeJS.ProcessEnv;
  /** Values from command-line flags, keyed by setting key (e.g. `log.level`). Secrets are refused. */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
  /** Explicit config file (`--config`); otherwise `<home>/config.json` is read when it exists. */
  readonly configFile?: string;
  /** Explicit home (`--home`); otherwise DBTRAIL_HOME or ~/.dbtrail. */
  readonly home?: string;
}

type Raw = string | boolean | undefined;

/**
 * Layers defaults < config file < environment < flags, validates every value once, and returns a frozen Config.
 * A bad value fails with a message naming where it came from and what was expected.
 */
export function loadConfig(sources: ConfigSources): Config {
  const home = resolve(sources.home ?? defaultHome(sources.env));
  const explicitFile = sources.configFile ?? sources.env['DBTRAIL_CONFIG'];
  const file = readConfigFile(explicitFile ?? join(home, 'config.json'), explicitFile !== undefined);

  const values = new Map<string, Raw>();
  for (const setting of SETTINGS) {
    let value: Raw = setting.default(home);
    let origin = 'default';
    const fromFile = lookup(file.values, setting.key);
    if (fromFile !== undefined) {
      if (setting.secret) {
        throw new ConfigError(
          `Cannot load config file ${file.path}: "${setting.key}" is a secret and must come from ${setting.env} or a file setting`,
          { key: setting.key, file: file.path },
        );
      }
      value = fromJson(setting, fromFile, `config file ${file.path}`);
      origin = `config file ${file.path}`;
    }
    const fromEnv = sources.env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      value = parseText(setting, fromEnv, `environment variable ${setting.env}`);
      origin = `environment variable ${setting.env}`;
    }
    const fromFlag = sources.flags?.[setting.key];
    if (fromFlag !== undefined) {
      if (setting.secret) {
        throw new ConfigError(
          `Cannot set "${setting.key}" from a flag: secrets must not appear on the command line`,
          {
            key: setting.key,
          },
        );
      }
      value =
        typeof fromFlag === 'boolean' ? fromFlag : parseText(setting, fromFlag, `flag for ${setting.key}`);
      origin = 'command-line flag';
    }
    validate(setting, value, origin);
    values.set(setting.key, value);
  }
  const unknown = file.values === undefined ? [] : unknownKeys(file.values, '');
  if (unknown.length > 0) {
    throw new ConfigError(
      `Cannot load config file ${file.path}: unknown setting ${unknown.map((k) => `"${k}"`).join(', ')}`,
      { file: file.path, keys: unknown },
    );
  }

  const str = (k: string): string | undefined => values.get(k) as string | undefined;
  const config: Config = {
    home,
    log: {
      level: str('log.level') as Config['log']['level'],
      format: str('log.format') as Config['log']['format'],
    },
    stateUrl: str('stateUrl') as string,
    objectsUrl: str('objectsUrl') as string,
    s3: {
      endpoint: str('s3.endpoint'),
      region: str('s3.region') as string,
      forcePathStyle: values.get('s3.forcePathStyle') === true,
      sse: str('s3.sse'),
      sseKmsKeyId: str('s3.sseKmsKeyId'),
    },
    source: {
      dsn: str('source.dsn'),
      passwordFile: str('source.passwordFile'),
      password: str('source.password'),
    },
    tenant: str('tenant') as string,
    server: { listen: str('server.listen') as string },
    secretKeyFile: str('secretKeyFile'),
    signing: { keyFile: str('signing.keyFile'), trustedKeysFile: str('signing.trustedKeysFile') },
    notify: { webhookUrl: str('notify.webhookUrl') },
    archive: {
      enabled: values.get('archive.enabled') !== false,
      intervalSeconds: str('archive.intervalSeconds') as string,
      maxSegmentMb: str('archive.maxSegmentMb') as string,
    },
  };
  return deepFreeze(config);
}

/** A printable view of the config with secrets redacted. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { home: config.home };
  for (const setting of SETTINGS) {
    const value = lookup(config as unknown as Record<string, unknown>, setting.key);
    out[setting.key] =
      setting.secret && value !== undefined
        ? '[redacted]'
        : setting.key === 'stateUrl' && typeof value === 'string'
          ? withoutUrlPassword(value)
          : value;
  }
  return out;
}

/** A postgres:// state URL may carry a password: `scheme://user:password@host` shows as `user:[redacted]@`. */
function withoutUrlPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:[redacted]@');
}

interface ConfigFile {
  readonly path: string;
  readonly values: Record<string, unknown> | undefined;
}

function readConfigFile(path: string, required: boolean): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return { path, values: undefined };
    throw new ConfigError(`Cannot read config file ${path}: ${messageOf(err)}`, { file: path }, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      `Cannot parse config file ${path}: expected JSON, ${messageOf(err)}`,
      { file: path },
      err,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`Cannot load config file ${path}: expected a JSON object at the top level`, {
      file: path,
    });
  }
  return { path, values: parsed as Record<string, unknown> };
}

function lookup(obj: Record<string, unknown> | undefined, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function unknownKeys(obj: Record<string, unknown>, prefix: string): string[] {
  const known = new Set(SETTINGS.map((s) => s.key));
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (known.has(key)) continue;
    const isGroup = SETTINGS.some((s) => s.key.startsWith(key + '.'));
    if (isGroup && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      out.push(...unknownKeys(v as Record<string, unknown>, key + '.'));
    } else {
      out.push(key);
    }
  }
  return out;
}

function fromJson(setting: Setting, value: unknown, origin: string): Raw {
  if (setting.type === 'boolean') {
    if (typeof value === 'boolean') return value;
    throw new ConfigError(
      `Cannot use ${origin}: "${setting.key}" must be true or false, got ${JSON.stringify(value)}`,
      {
        key: setting.key,
      },
    );
  }
  if (typeof value !== 'string') {
    throw new ConfigError(
      `Cannot use ${origin}: "${setting.key}" must be a string, got ${JSON.stringify(value)}`,
      {
        key: setting.key,
      },
    );
  }
  return value;
}

function parseText(setting: Setting, text: string, origin: string): Raw {
  if (setting.type !== 'boolean') return text;
  const lower = text.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(`Cannot use ${origin}: expected true or false, got "${text}"`, { key: setting.key });
}

function validate(setting: Setting, value: Raw, origin: string): void {
  if (value === undefined) return;
  if (setting.type === 'enum' && !setting.values?.includes(String(value))) {
    throw new ConfigError(
      `Cannot use ${origin}: "${setting.key}" must be one of ${setting.values?.join(', ')}, got "${String(value)}"`,
      { key: setting.key, value },
    );
  }
  if (
    setting.key === 'stateUrl' &&
    typeof value === 'string' &&
    !/^(sqlite:|postgres(ql)?:\/\/)/.test(value)
  ) {
    throw new ConfigError(
      `Cannot use ${origin}: stateUrl must start with sqlite: or postgres://, got "${value}"`,
      {
        key: setting.key,
      },
    );
  }
  if (
    (setting.key === 'archive.intervalSeconds' || setting.key === 'archive.maxSegmentMb') &&
    typeof value === 'string' &&
    !(/^\d+(\.\d+)?$/.test(value) && Number(value) > 0)
  ) {
    throw new ConfigError(
      `Cannot use ${origin}: "${setting.key}" must be a positive number, got "${value}"`,
      {
        key: setting.key,
      },
    );
  }
  if (setting.key === 'objectsUrl' && typeof value === 'string' && !/^(file:\/\/|s3:\/\/)/.test(value)) {
    throw new ConfigError(
      `Cannot use ${origin}: objectsUrl must start with file:// or s3://, got "${value}"`,
      {
        key: setting.key,
      },
    );
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
