import { describe, expect, it } from 'vitest';
import { sessionPreamble } from './preamble.js';
import { chooseReplicaServerId, REPLICA_ID_MAX, REPLICA_ID_MIN } from './replica-identity.js';
import { ReplicaIdError } from './errors.js';

describe('sessionPreamble', () => {
  it('asks MariaDB for checksums, heartbeats in nanoseconds, GTID capability and the GTID start', () => {
    expect(sessionPreamble({ flavor: 'mariadb', heartbeatMs: 1500, mariadbGtid: '0-1-42' })).toEqual([
      'SET @master_binlog_checksum = @@global.binlog_checksum',
      'SET @master_heartbeat_period = 1500000000',
      'SET @mariadb_slave_capability = 4',
      "SET @slave_connect_state = '0-1-42'",
      'SET @slave_gtid_strict_mode = 0',
      'SET @slave_gtid_ignore_duplicates = 0',
    ]);
  });

  it('sets the old and new variable names and the replica UUID on MySQL', () => {
    const uuid = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
    const sql = sessionPreamble({ flavor: 'mysql', heartbeatMs: 100, replicaUuid: uuid });
    expect(sql).toContain('SET @source_binlog_checksum = @@global.binlog_checksum');
    expect(sql).toContain('SET @source_heartbeat_period = 100000000');
    expect(sql).toContain(`SET @replica_uuid = '${uuid}'`);
    expect(sql).toContain(`SET @slave_uuid = '${uuid}'`);
    expect(sql.some((s) => s.includes('mariadb_slave_capability'))).toBe(false);
  });
});

describe('chooseReplicaServerId', () => {
  it('draws from the high range and never returns the source id', () => {
    const draws = [REPLICA_ID_MIN + 7, REPLICA_ID_MIN + 8];
    expect(chooseReplicaServerId(String(REPLICA_ID_MIN + 7), undefined, () => draws.shift() ?? 0)).toBe(
      REPLICA_ID_MIN + 8,
    );
    for (let i = 0; i < 100; i++) {
      const id = chooseReplicaServerId('1');
      expect(id).toBeGreaterThanOrEqual(REPLICA_ID_MIN);
      expect(id).toBeLessThanOrEqual(REPLICA_ID_MAX);
    }
  });

  it('accepts a requested id unless it is the source id or out of range', () => {
    expect(chooseReplicaServerId('1', 77)).toBe(77);
    expect(() => chooseReplicaServerId('77', 77)).toThrow(/source's own server_id/);
    expect(() => chooseReplicaServerId('1', 0)).toThrow(ReplicaIdError);
    expect(() => chooseReplicaServerId('1', 2 ** 32)).toThrow(ReplicaIdError);
  });
});
