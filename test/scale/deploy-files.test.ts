import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentCommand } from '../../src/cli/commands/agent.js';
import { serverCommand } from '../../src/cli/commands/server.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { loadConfig } from '../../src/config/load.js';
import { PROJECT_ROOT } from '../harness/cli.js';

/**
 * The deployment files stay true to the code: the sample config loads, the units' flags exist, and systemd is
 * told not to restart exactly on the exit codes that mean "fix the configuration first".
 */
const read = (p: string): string => readFileSync(join(PROJECT_ROOT, p), 'utf8');

describe('deployment files', () => {
  it('ships a sample config that loads', () => {
    const config = loadConfig({
      env: { DBTRAIL_HOME: '/nonexistent' },
      configFile: join(PROJECT_ROOT, 'deploy', 'config.sample.json'),
    });
    expect(config.stateUrl).toMatch(/^postgres:\/\//);
    expect(config.objectsUrl).toMatch(/^s3:\/\//);
    // No password in the sample: it belongs in the environment file.
    expect(config.stateUrl).not.toMatch(/:[^@/]*@/);
  });

  for (const [unit, command] of [
    ['dbtrail-server.service', serverCommand],
    ['dbtrail-agent.service', agentCommand],
  ] as const) {
    it(`${unit}: uses real flags and does not restart on configuration errors`, () => {
      const text = read(join('deploy', 'systemd', unit));
      const exec = /^ExecStart=(.*)$/m.exec(text)![1]!;
      const names = new Set(command.flags.map((f) => f.name));
      for (const [, flag] of exec.matchAll(/ --([a-z-]+)/g)) expect(names, `--${flag}`).toContain(flag);
      expect(exec).not.toMatch(/--key\b|bt_live_|password/i);
      const prevent = /^RestartPreventExitStatus=(.*)$/m
        .exec(text)![1]!
        .split(/\s+/)
        .map(Number)
        .sort((a, b) => a - b);
      const expected = [
        EXIT_CODES.usage,
        EXIT_CODES.input,
        EXIT_CODES.config,
        EXIT_CODES.auth,
        EXIT_CODES.unsupported,
      ];
      expect(prevent).toEqual(expected.sort((a, b) => a - b));
      expect(prevent).not.toContain(EXIT_CODES.connection);
      expect(text).toMatch(/^Restart=on-failure$/m);
    });
  }
});
