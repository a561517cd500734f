import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from '../config/schema.js';

export type Logger = PinoLogger;

/**
 * Paths redacted in every log line. Row images are logged only at debug and never secrets: passwords, keys and
 * DSNs with credentials are removed wherever they appear in structured fields.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'dsn',
  '*.dsn',
  'encryptionKey',
  '*.encryptionKey',
];

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; stderr by default so stdout stays clean for command output. */
  readonly destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The root logger; components take children: `logger.child({ component: 'capture' })`. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stderr;
  const usePretty = options.format === 'pretty' || (options.format === 'auto' && destination.isTTY === true);
  const stream: DestinationStream = usePretty
    ? pretty({
        destination,
        colorize: destination.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        sync: true,
      })
    : destination;
  return pino(
    { level: options.level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' }, base: null },
    stream,
  );
}

/** Removes the password from a DSN-like string for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:[redacted]@');
}
