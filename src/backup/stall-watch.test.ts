import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { processCpuTicks, watchForStall } from './stall-watch.js';

describe('watchForStall', () => {
  it('reports a process that uses no CPU while the server is idle, and only then', async () => {
    const child = spawn('sleep', ['30']);
    try {
      const pid = child.pid as number;
      expect(await processCpuTicks(pid)).toBeGreaterThanOrEqual(0);
      let busyServer = 0;
      const stalls: number[] = [];
      const stopBusy = watchForStall(pid, {
        stallMs: 200,
        everyMs: 20,
        isServerIdle: () => Promise.resolve(++busyServer < 0),
        onStall: (ms) => stalls.push(ms),
      });
      const stopIdle = watchForStall(pid, {
        stallMs: 200,
        everyMs: 20,
        isServerIdle: () => Promise.resolve(true),
        onStall: (ms) => stalls.push(ms),
      });
      await sleep(1000);
      stopBusy();
      stopIdle();
      // Only the watcher whose server was idle fired, once; the other kept asking the server.
      expect(stalls).toHaveLength(1);
      expect(stalls[0]).toBeGreaterThanOrEqual(200);
      expect(busyServer).toBeGreaterThan(1);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('never reports a process that keeps using CPU', async () => {
    const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 3000; while (Date.now() < end);']);
    try {
      let fired = false;
      const stop = watchForStall(child.pid as number, {
        // Long enough that a busy process on a loaded machine still gets some CPU within it.
        stallMs: 1000,
        everyMs: 50,
        isServerIdle: () => Promise.resolve(true),
        onStall: () => (fired = true),
      });
      await sleep(2500);
      stop();
      expect(fired).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
