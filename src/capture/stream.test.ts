import { describe, expect, it } from 'vitest';
import type { ServerFacts } from '../source/server-facts.js';
import { sameServer } from './server-state.js';
import { replicaIdFor, resumePosition } from './stream.js';

const facts = (flavor: 'mysql' | 'mariadb', gtidMode = 'OFF'): ServerFacts => ({
  flavor,
  version: '',
  versionNumber: [10, 11, 0],
  serverId: '1',
  serverUuid: null,
  hostname: 'h',
  variables: { gtid_mode: gtidMode },
  grants: [],
});

describe('stream capture helpers', () => {
  it('resumes by GTID when the server has GTIDs and the checkpoint a GTID state, else by position', () => {
    const cp = { file: 'binlog.000004', position: 900, gtidSet: '0-1-77' };
    expect(resumePosition(cp, facts('mariadb'))).toEqual({ gtid: '0-1-77' });
    expect(resumePosition({ ...cp, gtidSet: '' }, facts('mariadb'))).toEqual({
      file: 'binlog.000004',
      position: 900,
    });
    expect(resumePosition({ ...cp, gtidSet: 'u:1' }, facts('mysql', 'OFF'))).toEqual({
      file: 'binlog.000004',
      position: 900,
    });
    expect(resumePosition({ ...cp, gtidSet: 'u:1' }, facts('mysql', 'ON'))).toEqual({ gtid: 'u:1' });
  });

  it('registers with a stable replica id in the high range, never the source id', () => {
    const a = replicaIdFor('0b4f1c2e-1111-4222-8333-944445555666', '1');
    expect(replicaIdFor('0b4f1c2e-1111-4222-8333-944445555666', '1')).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0x8000_0000);
    expect(a).toBeLessThanOrEqual(0xffff_fffe);
    expect(replicaIdFor('0b4f1c2e-1111-4222-8333-944445555666', String(a))).toBe(a - 1);
    expect(replicaIdFor('another', '1')).not.toBe(a);
  });

  it('tells servers apart by server_uuid, else by server_id and host', () => {
    const base = { serverUuid: null, serverId: '5', hostname: 'db1', flavor: 'mariadb' as const };
    expect(sameServer(base, { ...base })).toBe(true);
    expect(sameServer(base, { ...base, serverId: '6' })).toBe(false);
    expect(sameServer(base, { ...base, hostname: 'db2' })).toBe(false);
    const my = { serverUuid: 'u1', serverId: '5', hostname: 'a', flavor: 'mysql' as const };
    expect(sameServer(my, { ...my, hostname: 'renamed' })).toBe(true);
    expect(sameServer(my, { ...my, serverUuid: 'u2' })).toBe(false);
  });
});
