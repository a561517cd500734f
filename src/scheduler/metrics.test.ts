import { describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/clock.js';
import { openSqliteStateStore } from '../store/sqlite/state-store.js';
import { collectMetrics, escapeLabel, Exposition } from './metrics.js';

describe('Exposition', () => {
  it('writes HELP and TYPE once per family and escapes label values', () => {
    const out = new Exposition();
    out.family('x_total', 'counter', 'Things');
    out.sample('x_total', { a: 'q"\\\nz' }, 3);
    out.sample('x_total', {}, 1.5);
    expect(out.text()).toBe(
      '# HELP x_total Things\n# TYPE x_total counter\nx_total{a="q\\"\\\\\\nz"} 3\nx_total 1.5\n',
    );
    expect(escapeLabel('plain')).toBe('plain');
  });
});

describe('collectMetrics', () => {
  it('counts backups by status and reports the last success, duration and size per server', async () => {
    const clock = new ManualClock('2024-05-01T10:00:00Z');
    const store = await openSqliteStateStore({ path: ':memory:', clock });
    try {
      const t = await store.tenants.create('acme');
      const other = await store.tenants.create('other');
      const s = await store.servers.create({
        tenantId: t.id,
        name: 'db1',
        host: 'h',
        port: 3306,
        username: 'u',
      });
      await store.servers.create({
        tenantId: other.id,
        name: 'secret-db',
        host: 'h',
        port: 3306,
        username: 'u',
      });
      const coordinates = { file: 'binlog.000001', position: 4, gtid: null };
      for (const outcome of ['succeeded', 'failed', 'succeeded'] as const) {
        const b = await store.catalog.create({
          tenantId: t.id,
          serverId: s.id,
          serverName: 'db1',
          tool: 'mydumper',
          status: 'running',
        });
        clock.advance(2_500);
        if (outcome === 'failed') {
          await store.catalog.transition(b.id, 'failed', { error: { code: null, message: 'x' } });
        } else {
          await store.catalog.transition(b.id, 'uploading', { coordinates, sizeBytes: 1000 });
          await store.catalog.transition(b.id, 'succeeded', { location: `file:///o/${b.id}` });
        }
        clock.advance(60_000);
      }
      await store.catalog.create({ tenantId: t.id, serverId: s.id, serverName: 'db1', tool: 'mydumper' });
      const text = await collectMetrics(
        { catalog: store.catalog, servers: store.servers, schedules: store.schedules, jobs: store.jobs },
        t.id,
        clock.now(),
      );
      const labels = `server_id="${s.id}",server="db1"`;
      expect(text).toContain(`dbtrail_backups{${labels},status="succeeded"} 2\n`);
      expect(text).toContain(`dbtrail_backups{${labels},status="failed"} 1\n`);
      expect(text).toContain(`dbtrail_backups{${labels},status="queued"} 1\n`);
      const lastSuccess = Date.parse('2024-05-01T10:00:00Z') / 1000 + 2.5 + 60 + 2.5 + 60 + 2.5;
      expect(text).toContain(`dbtrail_backup_last_success_timestamp_seconds{${labels}} ${lastSuccess}\n`);
      expect(text).toContain(`dbtrail_backup_last_duration_seconds{${labels}} 2.5\n`);
      expect(text).toContain(`dbtrail_backup_last_size_bytes{${labels}} 1000\n`);
      expect(text).toContain(`dbtrail_backup_duration_seconds_count{${labels}} 2\n`);
      expect(text).toContain(`dbtrail_backup_size_bytes_sum{${labels}} 2000\n`);
      expect(text).toContain('# TYPE dbtrail_backup_duration_seconds summary\n');
      expect(text).not.toContain('secret-db');
    } finally {
      await store.close();
    }
  });
});
