import { describe, expect, it } from 'vitest';
import { renderReportHtml } from './report-html.js';
import type { ReportJson } from './report.js';

const REPORT: ReportJson = {
  report_version: 1,
  generated_at: '2024-06-01T00:00:00.000Z',
  tenant: 'acme',
  server: { id: 's1', name: 'orders-db' },
  period: { from: '2024-05-01T00:00:00.000Z', to: '2024-06-01T00:00:00.000Z', seconds: 2_678_400 },
  signing_key: { key_id: '0123456789abcdef', public_key: 'A'.repeat(43) + '=' },
  summary: {
    backups_taken: 2,
    backups_succeeded: 1,
    backups_failed: 1,
    backups_verified_ok: 0,
    backups_verify_failed: 0,
    backups_never_verified: 1,
    drills_passed: 1,
    drills_failed: 0,
    drift_checks_clean: 0,
    drift_checks_failed: 0,
    gaps: 1,
    recoverable_seconds: 1_339_200,
    recoverable_per_mille: 500,
  },
  backups: [
    {
      id: 'b1',
      status: 'failed',
      tool: 'mydumper',
      started_at: '2024-05-02T00:00:00.000Z',
      finished_at: '2024-05-02T00:01:00.000Z',
      size_bytes: null,
      coordinates: null,
      location: null,
      error: 'Cannot dump: <script>alert(1)</script> & "quotes"',
      verification: null,
    },
    {
      id: 'b2',
      status: 'succeeded',
      tool: 'mydumper',
      started_at: '2024-05-16T00:00:00.000Z',
      finished_at: '2024-05-16T00:01:00.000Z',
      size_bytes: 5_242_880,
      coordinates: { file: 'binlog.000002', position: 4, gtid: null },
      location: 'file:///x',
      error: null,
      verification: null,
    },
  ],
  drills: [
    {
      at: '2024-05-20T00:00:00.000Z',
      outcome: 'success',
      actor: 'drill',
      target: 'd1',
      details: { rto_ms: 1 },
    },
  ],
  drift_checks: [],
  gaps: [
    {
      id: 'g1',
      reason: 'binlog_purged',
      detail: 'purged <b>while</b> down',
      from_time: null,
      to_time: '2024-05-10T00:00:00.000000Z',
      from: { file: 'binlog.000001', position: 4, gtidSet: null },
      to: { file: 'binlog.000002', position: 4, gtidSet: null },
      recorded_at: '2024-05-10T00:00:00.000Z',
    },
  ],
  recoverable_windows: [
    { from: '2024-05-16T00:01:00.000000Z', to: '2024-06-01T00:00:00.000000Z', backup_id: 'b2' },
  ],
  coverage_now: {
    binlog_retention_seconds: 604_800,
    binlog_retention_horizon: '2024-05-25T00:00:00.000Z',
    newest_dump_at: '2024-05-16T00:01:00.000Z',
    warnings: [{ code: 'dump_older_than_retention', message: 'The newest dump is older' }],
  },
  audit_chain: {
    ok: false,
    entries: 3,
    head: { seq: 3, hash: 'f'.repeat(64) },
    problems: ['entry 2 was <edited>'],
  },
};

describe('renderReportHtml', () => {
  const html = renderReportHtml(REPORT);

  it('escapes every value taken from the data', () => {
    expect(html).not.toContain('<script>');
    expect(html).toContain('Cannot dump: &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;quotes&#34;');
    expect(html).toContain('purged &#60;b&#62;while&#60;/b&#62; down');
    expect(html).toContain('entry 2 was &#60;edited&#62;');
  });

  it('states the problems: failed backup, gap, broken chain, never verified, warning', () => {
    expect(html).toContain('Problems found in the period');
    expect(html).toContain('hash chain BROKEN');
    expect(html).toContain('never verified');
    expect(html).toContain('The newest dump is older');
    expect(html).toContain('50.0%');
    expect(html).toContain('No drift checks recorded');
    expect(html).toContain('dbtrail audit verify --anchor 3:' + 'f'.repeat(64));
  });

  it('draws the recoverable window at its place in the period', () => {
    // 2024-05-16T00:01 is 15 days and one minute into a 31-day period.
    expect(html).toContain('<i style="left:48.389%;width:51.611%"></i>');
  });

  it('has no external resources', () => {
    expect(html).not.toMatch(/<script|<link|<img|url\(|@import|https?:\/\//i);
  });
});
