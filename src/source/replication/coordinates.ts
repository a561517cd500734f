import { EventFlag, EventType } from '../../binlog/event-types.js';
import type { DecodedEvent } from '../../binlog/events.js';
import { MariadbGtidPosition, MysqlGtidSet, parseMariadbGtidList } from './gtid.js';

/** Where a stream stands: the position of the next event to read, and the GTID state when it is known. */
export interface StreamCoordinates {
  /** The binlog file being read; undefined until the server's first ROTATE names it. */
  readonly file: string | undefined;
  /** Offset of the next event in `file`. */
  readonly position: number;
  /**
   * MySQL: the GTID set of every transaction up to `position` (known after a PREVIOUS_GTIDS event or a GTID start).
   * MariaDB: the last GTID per domain (the form `@slave_connect_state` takes). Undefined when not known yet.
   */
  readonly gtid: string | undefined;
}

/**
 * Follows a replication stream's events to keep its coordinates: the file from ROTATE (the artificial one the
 * server sends first, then the real one at the end of each file), the next position from each event header's
 * log_pos, and the GTID state from PREVIOUS_GTIDS / GTID_LIST and each transaction's GTID event.
 */
export class CoordinateTracker {
  #file: string | undefined;
  #position: number;
  readonly #flavor: 'mysql' | 'mariadb';
  #mysql: MysqlGtidSet | undefined;
  #mariadb: MariadbGtidPosition | undefined;

  constructor(flavor: 'mysql' | 'mariadb', start: { file?: string; position?: number; gtid?: string } = {}) {
    this.#flavor = flavor;
    this.#file = start.file;
    this.#position = start.position ?? 4;
    if (start.gtid !== undefined) {
      if (flavor === 'mysql') this.#mysql = MysqlGtidSet.parse(start.gtid);
      else this.#mariadb = new MariadbGtidPosition(parseMariadbGtidList(start.gtid));
    }
  }

  get coordinates(): StreamCoordinates {
    return {
      file: this.#file,
      position: this.#position,
      gtid: this.#flavor === 'mysql' ? this.#mysql?.toString() : this.#mariadb?.toString(),
    };
  }

  observe(event: DecodedEvent): void {
    const { header, body } = event;
    if (body.kind === 'rotate') {
      this.#file = body.nextFile;
      this.#position = body.position;
      return;
    }
    if (body.kind === 'heartbeat') return;
    switch (body.kind) {
      case 'previous_gtids':
        // Union: a GTID start seeds the set, the file's PREVIOUS_GTIDS may know more.
        this.#mysql ??= new MysqlGtidSet();
        for (const sid of body.sids) {
          for (const iv of sid.intervals) this.#mysql.addRange(sid.uuid, sid.tag, iv.start, iv.end);
        }
        break;
      case 'mysql_gtid':
        if (body.gtid !== undefined) this.#mysql?.add(body.uuid, body.tag, body.gno);
        break;
      case 'gtid_list':
        this.#mariadb ??= new MariadbGtidPosition();
        for (const text of body.gtids) this.#mariadb.advance(text);
        break;
      case 'mariadb_gtid':
        this.#mariadb ??= new MariadbGtidPosition();
        this.#mariadb.setText(body.gtid);
        break;
      default:
        break;
    }
    // Artificial events and events the server did not take from a file position carry log_pos 0; events inside a
    // TRANSACTION_PAYLOAD share the payload event's position, which its own header already moved to.
    if (event.payloadIndex !== undefined) return;
    if (header.logPos !== 0 && (header.flags & EventFlag.ARTIFICIAL) === 0) this.#position = header.logPos;
  }
}

/**
 * Events a replication stream carries that are not binlog content at a file position: heartbeats, the artificial
 * ROTATE the server sends first, and events it re-sends with log_pos 0 (the FORMAT_DESCRIPTION when the stream
 * starts inside a file, MariaDB's GTID_LIST for a GTID start). `binlog tail` leaves them out so its output is the
 * same as `binlog decode` over the same range.
 */
export function isStreamArtifact(event: DecodedEvent): boolean {
  const { header } = event;
  if (header.typeCode === EventType.HEARTBEAT || header.typeCode === EventType.HEARTBEAT_V2) return true;
  if ((header.flags & EventFlag.ARTIFICIAL) !== 0) return true;
  return header.logPos === 0 && event.payloadIndex === undefined;
}
