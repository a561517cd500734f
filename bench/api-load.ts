/**
 * A small keep-alive HTTP load generator, for `bench/api.ts` when `wrk` is not installed. Runs in its own process
 * so that its CPU time is not the server's. Reads one JSON job from the file named by argv[2]:
 *   {"url", "method", "headers", "bodies": [string...] (cycled; optional), "connections", "seconds"}
 * and prints one JSON line: {"requests", "seconds", "statuses": {"200": n}, "p50Ms", "p99Ms", "maxMs"}.
 * Each connection sends its next request when the previous answer has arrived (closed loop), like wrk.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

interface LoadJob {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly bodies?: readonly string[];
  readonly connections: number;
  readonly seconds: number;
}

const job = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadJob;
const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
const latencies: number[] = [];
const statuses: Record<string, number> = {};
let next = 0;
const started = performance.now();
const deadline = started + job.seconds * 1000;

function once(): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = job.bodies === undefined ? undefined : job.bodies[next++ % job.bodies.length];
    const t0 = performance.now();
    const req = request(
      job.url,
      {
        method: job.method,
        agent,
        headers: {
          ...job.headers,
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
        },
      },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          const key = String(res.statusCode);
          statuses[key] = (statuses[key] ?? 0) + 1;
          resolve();
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function connection(): Promise<void> {
  while (performance.now() < deadline) await once();
}

await Promise.all(Array.from({ length: job.connections }, () => connection()));
const seconds = (performance.now() - started) / 1000;
agent.destroy();
latencies.sort((a, b) => a - b);
const pick = (q: number): number =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, seconds, statuses, p50Ms: pick(0.5), p99Ms: pick(0.99), maxMs: latencies.at(-1) ?? 0 })}\n`,
);
