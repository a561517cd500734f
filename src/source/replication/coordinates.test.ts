import { describe, expect, it } from 'vitest';
import { EventFlag, EventType, eventTypeName } from '../../binlog/event-types.js';
import type { DecodedEvent, EventBody } from '../../binlog/events.js';
import { CoordinateTracker, isStreamArtifact } from './coordinates.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

function event(
  typeCode: number,
  logPos: number,
  body: EventBody,
  flags = 0,
  payloadIndex?: number,
): DecodedEvent {
  return {
    file: undefined,
    pos: 0,
    nextPos: logPos,
    type: eventTypeName(typeCode),
    header: { timestamp: 0, typeCode, serverId: 1, eventSize: 40, logPos, flags },
    gtid: undefined,
    payloadIndex,
    body,
  };
}

const raw: EventBody = { kind: 'raw', raw: Buffer.alloc(0) };

describe('CoordinateTracker', () => {
  it('takes the file from ROTATE and the next position from log_pos, ignoring artificial events', () => {
    const t = new CoordinateTracker('mariadb', { file: 'binlog.000001', position: 4 });
    t.observe(
      event(
        EventType.ROTATE,
        0,
        { kind: 'rotate', position: 4, nextFile: 'binlog.000002' },
        EventFlag.ARTIFICIAL,
      ),
    );
    expect(t.coordinates).toEqual({ file: 'binlog.000002', position: 4, gtid: undefined });
    t.observe(event(EventType.FORMAT_DESCRIPTION, 0, raw));
    expect(t.coordinates.position).toBe(4);
    t.observe(event(EventType.QUERY, 300, raw));
    expect(t.coordinates.position).toBe(300);
    t.observe(event(EventType.HEARTBEAT, 999, { kind: 'heartbeat', logFile: 'binlog.000002', logPos: 999 }));
    expect(t.coordinates.position).toBe(300);
    t.observe(event(EventType.QUERY, 777, raw, 0, 0));
    expect(t.coordinates.position).toBe(300);
  });

  it('follows MariaDB GTIDs from the start position, GTID_LIST and GTID events', () => {
    const t = new CoordinateTracker('mariadb', { gtid: '0-1-10' });
    t.observe(event(EventType.GTID_LIST, 100, { kind: 'gtid_list', flags: 0, gtids: ['0-1-5', '1-2-7'] }));
    expect(t.coordinates.gtid).toBe('0-1-10,1-2-7');
    const gtid = {
      kind: 'mariadb_gtid',
      gtid: '0-3-11',
      domainId: 0,
      seqNo: 11n,
      flags2: 0,
      standalone: false,
      commitId: undefined,
      xa: undefined,
      flagsExtra: 0,
      extraEngines: undefined,
      startAlterSeqNo: undefined,
      threadId: undefined,
    } as const;
    t.observe(event(EventType.MARIADB_GTID, 200, gtid));
    expect(t.coordinates).toEqual({ file: undefined, position: 200, gtid: '0-3-11,1-2-7' });
  });

  it('builds the MySQL GTID set from PREVIOUS_GTIDS and each GTID event', () => {
    const t = new CoordinateTracker('mysql', { file: 'b.1', position: 4 });
    expect(t.coordinates.gtid).toBeUndefined();
    t.observe(
      event(EventType.PREVIOUS_GTIDS, 150, {
        kind: 'previous_gtids',
        gtidSet: `${U1}:1-3`,
        sids: [{ uuid: U1, tag: '', intervals: [{ start: 1n, end: 4n }] }],
      }),
    );
    t.observe(
      event(EventType.GTID, 230, {
        kind: 'mysql_gtid',
        gtid: `${U1}:4`,
        uuid: U1,
        tag: undefined,
        gno: 4n,
        flags: 0,
        lastCommitted: undefined,
        sequenceNumber: undefined,
        immediateCommitTimestamp: undefined,
        originalCommitTimestamp: undefined,
        transactionLength: undefined,
        immediateServerVersion: undefined,
        originalServerVersion: undefined,
        commitGroupTicket: undefined,
      }),
    );
    expect(t.coordinates).toEqual({ file: 'b.1', position: 230, gtid: `${U1}:1-4` });
  });
});

describe('isStreamArtifact', () => {
  it('recognises heartbeats, artificial events and re-sent events with log_pos 0', () => {
    expect(isStreamArtifact(event(EventType.HEARTBEAT, 500, raw))).toBe(true);
    expect(isStreamArtifact(event(EventType.ROTATE, 0, raw, EventFlag.ARTIFICIAL))).toBe(true);
    expect(isStreamArtifact(event(EventType.FORMAT_DESCRIPTION, 0, raw))).toBe(true);
    expect(isStreamArtifact(event(EventType.FORMAT_DESCRIPTION, 256, raw))).toBe(false);
    // Events inside a TRANSACTION_PAYLOAD carry log_pos 0 but are binlog content.
    expect(isStreamArtifact(event(EventType.WRITE_ROWS, 0, raw, 0, 2))).toBe(false);
  });
});
