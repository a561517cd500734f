import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from './logger.js';

function capture(format: 'json' | 'pretty') {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const logger = createLogger({ level: 'info', format, destination: out });
  return { logger, text: () => text };
}

describe('createLogger', () => {
  it('writes JSON lines with secrets redacted wherever they sit', () => {
    const { logger, text } = capture('json');
    logger.child({ component: 'test' }).info(
      {
        password: 'hunter2',
        source: { dsn: 'mysql://u:pw@h', password: 'pw2' },
        headers: { authorization: 'Bearer bt_live_x' },
      },
      'connected',
    );
    const line = JSON.parse(text()) as Record<string, unknown>;
    expect(line['msg']).toBe('connected');
    expect(line['component']).toBe('test');
    expect(text()).not.toMatch(/hunter2|pw2|mysql:\/\/u:pw|bt_live_x/);
    expect(line['password']).toBe('[redacted]');
  });

  it('is human-readable in pretty mode', () => {
    const { logger, text } = capture('pretty');
    logger.warn({ password: 'hunter2' }, 'careful');
    expect(text()).toMatch(/WARN.*careful/);
    expect(text()).not.toContain('hunter2');
  });

  it('removes passwords from URLs', () => {
    expect(redactUrl('mysql://app:s3cret@db:3306/x')).toBe('mysql://app:[redacted]@db:3306/x');
    expect(redactUrl('mysql://app@db')).toBe('mysql://app@db');
  });
});
