import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Runs several child processes so that they race for real: each announces `ready` on stdout once loaded and waits
 * for `go` on stdin, and every child gets `go` only when all are ready. A start instant chosen in advance is not
 * enough on a loaded machine, where one child's start-up can outlast the other's whole run. Resolves with each
 * child's last stdout line, parsed as JSON.
 */
export async function runTogether<T>(
  commands: readonly { cmd: string; args: readonly string[]; cwd?: string }[],
): Promise<T[]> {
  let ready = 0;
  const children = commands.map(({ cmd, args, cwd }) =>
    spawn(cmd, args, { ...(cwd !== undefined ? { cwd } : {}), stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  return Promise.all(
    children.map(
      (child, i) =>
        new Promise<T>((resolve, reject) => {
          let last = '';
          let err = '';
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          createInterface({ input: child.stdout }).on('line', (line) => {
            if (line === 'ready') {
              ready++;
              if (ready === children.length) for (const c of children) c.stdin.end('go\n');
            } else if (line.trim() !== '') {
              last = line;
            }
          });
          child.on('error', reject);
          child.on('close', (code) => {
            if (code !== 0)
              reject(new Error(`process ${i} (${commands[i]?.args.join(' ')}) exited ${code}: ${err}`));
            else resolve(JSON.parse(last) as T);
          });
        }),
    ),
  );
}

/** The child's side: say `ready`, then wait for `go` on stdin. */
export async function waitForGo(): Promise<void> {
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line === 'go') {
        rl.close();
        // Let the process exit when its work is done, whatever the parent does with the pipe.
        process.stdin.unref();
        resolve();
      }
    });
  });
}
