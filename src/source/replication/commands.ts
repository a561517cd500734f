import { ReplicaIdError, StartPositionError } from './errors.js';

/**
 * Builders for the client commands of the replication protocol. Each returns the command's payload; `framePacket`
 * adds the 4-byte packet header. Integers are little-endian.
 *
 * Spec: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_replication.html (COM_REGISTER_REPLICA,
 * COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID) and https://mariadb.com/kb/en/com_binlog_dump/ and
 * https://mariadb.com/kb/en/com_register_slave/.
 */
export const Command = {
  COM_QUIT: 0x01,
  COM_BINLOG_DUMP: 0x12,
  COM_REGISTER_SLAVE: 0x15,
  COM_BINLOG_DUMP_GTID: 0x1e,
} as const;

/** Flags of COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID. */
export const DumpFlag = {
  /** Both flavours: send an EOF packet at the end of the binlog instead of waiting for more events. */
  NON_BLOCK: 0x01,
  /** MariaDB COM_BINLOG_DUMP: also send ANNOTATE_ROWS events (otherwise the server skips them). */
  MARIADB_SEND_ANNOTATE_ROWS: 0x02,
  /** MySQL COM_BINLOG_DUMP_GTID: the file name and position fields are meaningful. */
  MYSQL_THROUGH_POSITION: 0x02,
  /** MySQL COM_BINLOG_DUMP_GTID: a GTID set follows; send only transactions not in it. */
  MYSQL_THROUGH_GTID: 0x04,
} as const;

/** The largest payload one packet carries; longer payloads continue in the next packet (protocol "16 MiB" rule). */
export const MAX_PACKET_PAYLOAD = 0xffffff;

const UINT32_MAX = 0xffffffff;

/**
 * Frames a command payload as protocol packets: 3-byte payload length (offset 0), 1-byte sequence id (offset 3),
 * then the payload. A payload of 0xffffff bytes or more is split; a final chunk of exactly 0xffffff bytes is
 * followed by an empty packet so the receiver knows it ended. Commands start a new sequence at 0.
 */
export function framePacket(payload: Buffer, sequenceId = 0): Buffer {
  const parts: Buffer[] = [];
  let seq = sequenceId & 0xff;
  let offset = 0;
  for (;;) {
    const len = Math.min(MAX_PACKET_PAYLOAD, payload.length - offset);
    const header = Buffer.alloc(4);
    header.writeUIntLE(len, 0, 3);
    header[3] = seq;
    parts.push(header, payload.subarray(offset, offset + len));
    offset += len;
    seq = (seq + 1) & 0xff;
    if (len < MAX_PACKET_PAYLOAD) break;
  }
  return Buffer.concat(parts);
}

export interface RegisterReplicaOptions {
  /** The replica's server id: unique among the source's replicas, never the source's own. */
  readonly serverId: number;
  /** Shown in SHOW REPLICAS / SHOW SLAVE HOSTS; at most 255 bytes. */
  readonly reportHost?: string;
  /** Shown with --show-slave-auth-info. Never a real credential: the server may display it. */
  readonly reportUser?: string;
  readonly reportPassword?: string;
  readonly reportPort?: number;
}

/**
 * COM_REGISTER_SLAVE (0x15):
 *   offset 0  command          1 byte  0x15
 *   offset 1  server_id        4 bytes
 *   offset 5  hostname         1-byte length + bytes
 *   then      user             1-byte length + bytes
 *   then      password         1-byte length + bytes
 *   then      port             2 bytes
 *   then      replication rank 4 bytes (ignored by servers, 0)
 *   then      master id        4 bytes (0: the server fills in its own)
 */
export function registerReplicaPayload(options: RegisterReplicaOptions): Buffer {
  checkServerId(options.serverId);
  const host = shortString(options.reportHost ?? '', 'report host');
  const user = shortString(options.reportUser ?? '', 'report user');
  const password = shortString(options.reportPassword ?? '', 'report password');
  const port = options.reportPort ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new ReplicaIdError(`Cannot register as a replica: report port must be 0-65535, got ${port}`);
  }
  const out = Buffer.alloc(1 + 4 + 1 + host.length + 1 + user.length + 1 + password.length + 2 + 4 + 4);
  let o = 0;
  out[o++] = Command.COM_REGISTER_SLAVE;
  o = out.writeUInt32LE(options.serverId, o);
  out[o++] = host.length;
  o += host.copy(out, o);
  out[o++] = user.length;
  o += user.copy(out, o);
  out[o++] = password.length;
  o += password.copy(out, o);
  o = out.writeUInt16LE(port, o);
  o = out.writeUInt32LE(0, o); // replication rank
  out.writeUInt32LE(0, o); // master id
  return out;
}

export interface BinlogDumpOptions {
  readonly serverId: number;
  /** Binlog file name; empty to let the server choose (MariaDB GTID start, or the first file). */
  readonly file: string;
  /** Byte offset of the first event to send (4 = the start of the file). */
  readonly position: number;
  /** DumpFlag bits. */
  readonly flags: number;
}

/**
 * COM_BINLOG_DUMP (0x12):
 *   offset 0   command    1 byte   0x12
 *   offset 1   binlog_pos 4 bytes
 *   offset 5   flags      2 bytes
 *   offset 7   server_id  4 bytes
 *   offset 11  file name  rest of the packet (no terminator)
 */
export function binlogDumpPayload(options: BinlogDumpOptions): Buffer {
  checkServerId(options.serverId);
  checkFlags(options.flags);
  if (!Number.isInteger(options.position) || options.position < 0 || options.position > UINT32_MAX) {
    throw new StartPositionError(
      `Cannot request the binlog: position must be an integer 0-${UINT32_MAX}, got ${options.position}`,
      { fields: { position: options.position } },
    );
  }
  const file = Buffer.from(options.file, 'utf8');
  const out = Buffer.alloc(11 + file.length);
  out[0] = Command.COM_BINLOG_DUMP;
  out.writeUInt32LE(options.position, 1);
  out.writeUInt16LE(options.flags, 5);
  out.writeUInt32LE(options.serverId, 7);
  file.copy(out, 11);
  return out;
}

export interface BinlogDumpGtidOptions {
  readonly serverId: number;
  readonly file: string;
  readonly position: bigint;
  /** DumpFlag bits; MYSQL_THROUGH_GTID is added when `gtidData` is given. */
  readonly flags: number;
  /** The encoded GTID set (see `encodeMysqlGtidSet`): transactions the replica already has. */
  readonly gtidData: Buffer | undefined;
}

/**
 * COM_BINLOG_DUMP_GTID (0x1e), MySQL only:
 *   offset 0   command        1 byte   0x1e
 *   offset 1   flags          2 bytes
 *   offset 3   server_id      4 bytes
 *   offset 7   file name len  4 bytes
 *   offset 11  file name      `len` bytes
 *   then       binlog_pos     8 bytes
 *   then       data size      4 bytes   } only when flags has BINLOG_THROUGH_GTID (0x04)
 *   then       GTID set       `size` bytes (Gtid_set::encode)
 */
export function binlogDumpGtidPayload(options: BinlogDumpGtidOptions): Buffer {
  checkServerId(options.serverId);
  checkFlags(options.flags);
  if (options.position < 0n || options.position > 0xffffffffffffffffn) {
    throw new StartPositionError(
      `Cannot request the binlog: position must be 0-2^64-1, got ${options.position}`,
    );
  }
  const file = Buffer.from(options.file, 'utf8');
  const data = options.gtidData;
  const flags = data === undefined ? options.flags : options.flags | DumpFlag.MYSQL_THROUGH_GTID;
  const out = Buffer.alloc(1 + 2 + 4 + 4 + file.length + 8 + (data === undefined ? 0 : 4 + data.length));
  let o = 0;
  out[o++] = Command.COM_BINLOG_DUMP_GTID;
  o = out.writeUInt16LE(flags, o);
  o = out.writeUInt32LE(options.serverId, o);
  o = out.writeUInt32LE(file.length, o);
  o += file.copy(out, o);
  o = out.writeBigUInt64LE(options.position, o);
  if (data !== undefined) {
    o = out.writeUInt32LE(data.length, o);
    data.copy(out, o);
  }
  return out;
}

/** COM_QUIT (0x01): a one-byte payload. */
export function quitPayload(): Buffer {
  return Buffer.from([Command.COM_QUIT]);
}

function checkServerId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > UINT32_MAX) {
    throw new ReplicaIdError(
      `Cannot build a replication command: server id must be 1-${UINT32_MAX}, got ${id}`,
    );
  }
}

function checkFlags(flags: number): void {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) {
    throw new StartPositionError(`Cannot build a replication command: flags must fit 16 bits, got ${flags}`);
  }
}

function shortString(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) {
    throw new ReplicaIdError(`Cannot register as a replica: ${what} is ${bytes.length} bytes, at most 255`);
  }
  return bytes;
}
