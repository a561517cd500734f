import { isAbsolute, resolve } from 'node:path';
import { StateUrlError } from './errors.js';

/** Where the state lives, as parsed from config `stateUrl`. */
export type StateLocation =
  | { readonly kind: 'sqlite'; /** Absolute file path, or `:memory:`. */ readonly path: string }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      /** The URL without its password. */ readonly display: string;
    };

/**
 * Parses `stateUrl`: `sqlite:PATH` (also `sqlite://PATH`, `sqlite:///abs/path`, `sqlite::memory:`; a relative
 * PATH is relative to `cwd`) or `postgres://...` / `postgresql://...`.
 */
export function parseStateUrl(url: string, cwd: string = process.cwd()): StateLocation {
  const lower = url.toLowerCase();
  if (lower.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === ':memory:') return { kind: 'sqlite', path };
    if (path === '') {
      throw new StateUrlError(`Cannot open state store "${url}": expected a file path after "sqlite:"`, {
        fields: { stateUrl: url },
      });
    }
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (lower.startsWith('postgres://') || lower.startsWith('postgresql://')) {
    return { kind: 'postgres', url, display: withoutPassword(url) };
  }
  const shown = withoutPassword(url);
  throw new StateUrlError(`Cannot open state store "${shown}": expected sqlite:PATH or postgres://...`, {
    fields: { stateUrl: shown },
  });
}

/** Removes `:password` from `scheme://user:password@host`, so the URL can appear in messages. */
export function withoutPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:[redacted]@');
}
