/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are walked freely; assertions check them. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/lib/clock.js';

/** Real time plus an offset the test moves: leases and timeouts keep working while schedules are made due. */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  /** Moves "now" to `to` (plus nothing else): later readings advance with real time from there. */
  jumpTo(to: Date): void {
    this.offsetMs = to.getTime() - Date.now();
  }
}

export interface Reply {
  readonly status: number;
  readonly json: any;
  readonly text: string;
}

/** A small API client over real HTTP. */
export function client(base: string, key: string) {
  return async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      text,
      json: type.includes('json') && text !== '' ? JSON.parse(text) : undefined,
    };
  };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out waiting for ${what}${last !== undefined ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A webhook receiver on 127.0.0.1 that keeps every JSON body it is sent. */
export async function startWebhookReceiver(): Promise<{
  url: string;
  events: any[];
  close(): Promise<void>;
}> {
  const events: any[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      events.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook?token=s3cret`,
    events,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
