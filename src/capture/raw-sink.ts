import type { DecodedEvent } from '../binlog/events.js';
import type { BinlogCoordinates, NewGap } from '../store/change-index.js';

/**
 * A consumer of the raw binlog byte stream a capture session reads (the raw binlog archive). Capture knows only
 * this interface. Ordering guarantee: `event` is called with an event's bytes before capture processes the
 * event, so whatever the sink writes synchronously there is written before capture commits the transaction.
 */
export interface RawEventSink {
  /**
   * A capture session is about to stream from `start`: the checkpoint (a resume), the current end of the binlog
   * (a first start), or the oldest binlog the server has when `gap` says the binlogs in between were purged.
   */
  begin(session: {
    readonly start: BinlogCoordinates;
    readonly flavor: 'mysql' | 'mariadb';
    readonly gap: NewGap | undefined;
  }): Promise<void>;
  /** One event as the server sent it (a view valid only during the call) and its decoded form. */
  event(raw: Buffer, event: DecodedEvent): void;
}
