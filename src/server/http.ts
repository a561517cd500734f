import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { App } from './app.js';
import { bodyTooLarge, HTTP_ERROR_CODES, HttpError, ListenError } from './errors.js';
import { finalize, json } from './response.js';

/** A listening server. `close()` stops accepting, lets requests in flight finish and drops idle connections. */
export interface RunningServer {
  /** `http://127.0.0.1:8420`, with brackets for IPv6. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves an app over node:http. The app does all the work; this only moves bytes. */
export function serve(
  app: Pick<App, 'handle'>,
  host: string,
  port: number,
  logger: Logger,
): Promise<RunningServer> {
  const log = logger.child({ component: 'http' });
  const server = createServer(
    // Slow or stalled clients must not hold sockets forever.
    { requestTimeout: 60_000, headersTimeout: 20_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      respond(app, req, res).catch((error: unknown) => {
        log.error({ err: error }, 'cannot write response');
        res.destroy();
      });
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new ListenError(host, port, error)));
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${shownHost}:${address.port}`,
        host: address.address,
        port: address.port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error === undefined ? done() : fail(error)));
            server.closeIdleConnections();
          }),
      });
    });
  });
}

async function respond(app: Pick<App, 'handle'>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const body = new BodyReader(req);
  let response;
  try {
    response = await app.handle({
      method,
      url: req.url ?? '/',
      headers: flattenHeaders(req.headers),
      remoteAddress: req.socket.remoteAddress ?? '',
      readBody: (limit) => body.read(limit),
    });
  } catch {
    // handle() maps every error itself; this is the last resort if that mapping failed.
    response = json(
      { error: { code: HTTP_ERROR_CODES.internal, message: 'Cannot handle request', fields: {} } },
      500,
    );
  }
  const wire = finalize(response, method.toUpperCase());
  // A body left unread (too large) is not drained: close the connection instead of reading it to the end.
  if (body.abandoned) wire.headers.connection = 'close';
  res.writeHead(wire.status, wire.headers);
  res.end(
    wire.body === undefined
      ? undefined
      : Buffer.from(wire.body.buffer, wire.body.byteOffset, wire.body.byteLength),
  );
}

/** Reads a request body once, up to a limit, without buffering past it. */
class BodyReader {
  readonly #req: IncomingMessage;
  abandoned = false;

  constructor(req: IncomingMessage) {
    this.#req = req;
  }

  read(limit: number): Promise<Uint8Array> {
    const req = this.#req;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      this.abandoned = true;
      return Promise.reject(bodyTooLarge(limit));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      const cleanup = (): void => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
      };
      const onData = (chunk: Buffer): void => {
        total += chunk.byteLength;
        if (total > limit) {
          cleanup();
          req.pause();
          this.abandoned = true;
          reject(bodyTooLarge(limit));
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(Buffer.concat(chunks, total));
      };
      const onError = (error: Error): void => {
        cleanup();
        this.abandoned = true;
        reject(
          new HttpError(400, HTTP_ERROR_CODES.bodyReadFailed, `Cannot read request body: ${error.message}`, {
            cause: error,
          }),
        );
      };
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
    });
  }
}

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
