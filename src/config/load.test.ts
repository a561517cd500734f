import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { loadConfig, redactedConfig } from './load.js';

function home(config?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbtrail-config-'));
  if (config !== undefined)
    writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

describe('loadConfig', () => {
  it('uses defaults under DBTRAIL_HOME', () => {
    const h = home();
    const c = loadConfig({ env: { DBTRAIL_HOME: h } });
    expect(c.home).toBe(h);
    expect(c.stateUrl).toBe(`sqlite:${join(h, 'dbtrail.db')}`);
    expect(c.objectsUrl).toBe(`file://${join(h, 'objects')}`);
    expect(c.log).toEqual({ level: 'info', format: 'auto' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.s3)).toBe(true);
  });

  it('layers defaults < config file < environment < flags', () => {
    const h = home({
      log: { level: 'debug', format: 'json' },
      tenant: 'file-tenant',
      s3: { forcePathStyle: true },
    });
    const fileOnly = loadConfig({ env: { DBTRAIL_HOME: h } });
    expect(fileOnly.log).toEqual({ level: 'debug', format: 'json' });
    expect(fileOnly.tenant).toBe('file-tenant');
    expect(fileOnly.s3.forcePathStyle).toBe(true);

    const withEnv = loadConfig({
      env: { DBTRAIL_HOME: h, DBTRAIL_LOG_LEVEL: 'warn', DBTRAIL_S3_FORCE_PATH_STYLE: 'false' },
    });
    expect(withEnv.log.level).toBe('warn');
    expect(withEnv.log.format).toBe('json');
    expect(withEnv.s3.forcePathStyle).toBe(false);

    const withFlags = loadConfig({
      env: { DBTRAIL_HOME: h, DBTRAIL_LOG_LEVEL: 'warn' },
      flags: { 'log.level': 'error', 'log.format': 'pretty' },
    });
    expect(withFlags.log).toEqual({ level: 'error', format: 'pretty' });
  });

  it('prefers --home over DBTRAIL_HOME and an explicit --config over the home file', () => {
    const a = home({ tenant: 'a' });
    const b = home({ tenant: 'b' });
    expect(loadConfig({ env: { DBTRAIL_HOME: a }, home: b }).tenant).toBe('b');
    expect(loadConfig({ env: { DBTRAIL_HOME: a }, configFile: join(b, 'config.json') }).tenant).toBe('b');
  });

  it.each([
    [
      { log: { level: 'loud' } },
      /"log.level" must be one of trace, debug, info, warn, error, silent, got "loud"/,
    ],
    [{ tenant: 7 }, /"tenant" must be a string, got 7/],
    [{ s3: { forcePathStyle: 'yes' } }, /"s3.forcePathStyle" must be true or false/],
    [{ colour: 'red' }, /unknown setting "colour"/],
    [{ s3: { bucket: 'x' } }, /unknown setting "s3.bucket"/],
    [{ stateUrl: 'mysql://x' }, /stateUrl must start with sqlite: or postgres:\/\//],
    [
      { source: { password: 'x' } },
      /"source.password" is a secret and must come from DBTRAIL_SOURCE_PASSWORD/,
    ],
    ['{not json', /Cannot parse config file .*config.json: expected JSON/],
    ['[]', /expected a JSON object at the top level/],
  ])('rejects a bad config file %j, naming the file and the setting', (content, message) => {
    const h = home(content);
    expect(() => loadConfig({ env: { DBTRAIL_HOME: h } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { DBTRAIL_HOME: h } })).toThrow(message);
  });

  it('names the environment variable that holds a bad value', () => {
    expect(() => loadConfig({ env: { DBTRAIL_HOME: home(), DBTRAIL_LOG_FORMAT: 'xml' } })).toThrow(
      /environment variable DBTRAIL_LOG_FORMAT: "log.format" must be one of auto, pretty, json, got "xml"/,
    );
  });

  it('refuses secrets from flags and a missing explicit config file', () => {
    expect(() => loadConfig({ env: { DBTRAIL_HOME: home() }, flags: { 'source.password': 'x' } })).toThrow(
      /secrets must not appear on the command line/,
    );
    expect(() =>
      loadConfig({ env: { DBTRAIL_HOME: home() }, configFile: '/nonexistent/dbtrail.json' }),
    ).toThrow(/Cannot read config file \/nonexistent\/dbtrail.json/);
  });

  it('redacts secrets when shown', () => {
    const c = loadConfig({ env: { DBTRAIL_HOME: home(), DBTRAIL_SOURCE_PASSWORD: 'hunter2' } });
    expect(c.source.password).toBe('hunter2');
    const shown = JSON.stringify(redactedConfig(c));
    expect(shown).not.toContain('hunter2');
    expect(shown).toContain('[redacted]');
  });

  it('shows a postgres state URL without its password', () => {
    const c = loadConfig({
      env: { DBTRAIL_HOME: home(), DBTRAIL_STATE_URL: 'postgres://app:hunter2@db:5432/state' },
    });
    expect(redactedConfig(c)['stateUrl']).toBe('postgres://app:[redacted]@db:5432/state');
  });
});
