import type { Duplex } from 'node:stream';
import type { Connection } from 'mysql2/promise';
import { ReplicationProtocolError } from './errors.js';

/**
 * The parts of mysql2's internal connection (`lib/base/connection.js`) the takeover touches. Typed structurally
 * so a change in mysql2 shows up here and nowhere else.
 */
interface Mysql2Core {
  /** The socket: a net.Socket, or the tls.TLSSocket that replaced it after the TLS upgrade. */
  stream: Duplex;
  /** Set by mysql2 when the client closes on purpose; its 'close' handler then stays quiet. */
  _closing?: boolean;
  /** The command in flight and the queue; both must be empty for mysql2 to have no claim on incoming bytes. */
  _command?: unknown;
  _commands?: { length: number };
  _fatalError?: unknown;
  on(event: 'error', listener: (err: unknown) => void): unknown;
}

/**
 * Takes the socket of an idle, authenticated mysql2 connection for the binlog stream.
 *
 * mysql2 does the parts worth reusing: the handshake, every auth plugin (caching_sha2_password's full
 * authentication and RSA exchange included) and the TLS upgrade. After that, a binlog dump is one command whose
 * response never ends, which mysql2's command queue is not built for (its own BinlogDump command drops ERR details
 * and has no flow control). So once the session setup queries have completed:
 *
 * 1. The connection must be idle: no command running or queued (`_command`, `_commands`). Nothing arrives
 *    unasked on the classic protocol, so no bytes are buffered in mysql2's parser either.
 * 2. mysql2's 'data' listener is removed from `connection.stream` (the TLS socket when TLS is on: mysql2 moved its
 *    listener there during the upgrade). From then on its packet parser never sees a byte, and the caller's
 *    listener owns the stream.
 * 3. mysql2 keeps its 'error'/'close' listeners on the socket. They would report the end of the stream as a
 *    connection error and emit 'error' on the connection, which throws when nobody listens. `_closing = true` tells
 *    its close handler the end is expected, and a no-op 'error' listener absorbs what is left; the caller's own
 *    socket listeners turn failures into typed errors.
 *
 * The caller then writes whole packets to the returned stream itself and destroys it when done. The mysql2
 * connection object must not be used again.
 */
export function takeOverSocket(conn: Connection): Duplex {
  const core = (conn as unknown as { connection?: Mysql2Core }).connection;
  if (core === undefined || core.stream === undefined) {
    throw new ReplicationProtocolError(
      'Cannot take over the source connection: the mysql2 connection has no stream',
    );
  }
  if (core._command != null || (core._commands?.length ?? 0) > 0) {
    throw new ReplicationProtocolError(
      'Cannot take over the source connection: a query is still running on it',
    );
  }
  if (core._fatalError != null || core.stream.destroyed) {
    throw new ReplicationProtocolError('Cannot take over the source connection: it is already closed');
  }
  const stream = core.stream;
  stream.removeAllListeners('data');
  core._closing = true;
  core.on('error', () => undefined);
  return stream;
}
