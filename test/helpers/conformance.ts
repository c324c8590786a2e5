/**
 * The backends the conformance suite (test/integration/backend-conformance.test.ts)
 * runs against. Each backend adds one entry to CONFORMANCE_BACKENDS; the
 * suite runs every test once per entry.
 *
 * The suite writes meow.yaml as its own top-level keys (kill_grace, …)
 * followed by `meowYaml(root)`, so an entry gives only the `backends:`
 * section. Its recipes write their marker files by absolute path under the
 * workspace (the test daemons run on this machine), and a pattern names the
 * backend with `backend: NAME`.
 */

import { slurmMissing, sshTarget, sshTestArgs } from './remote-backends.js';

/** One backend under test. */
export interface ConformanceBackend {
  /** The backend's name in meow.yaml (patterns say `backend: NAME`). */
  name: string;
  /** Null when the backend can run here; otherwise why not, and how to set it up. */
  available(): Promise<string | null>;
  /** The `backends:` section of meow.yaml for a workspace at `root`, defining `name`. */
  meowYaml(root: string): string;
  /**
   * How many one-cpu jobs the backend runs at once with this config, when
   * the engine holds the rest `queued` (a backend with a capacity); absent
   * when the backend takes every job at once and queues on its own.
   */
  maxRunning?: number;
}

/** Every backend the suite covers. Remote backends append their entries here. */
export const CONFORMANCE_BACKENDS: ConformanceBackend[] = [
  {
    name: 'local',
    available: async () => null,
    meowYaml: () => 'backends:\n  local: {type: local, cpus: 2, gpus: []}\n',
    maxRunning: 2,
  },
  {
    // The one-node cluster of scripts/start-slurm.sh; Slurm queues on its own (8 CPUs: all 5 jobs of a test run at once).
    name: 'slurm',
    available: async () => slurmMissing(),
    meowYaml: () => 'backends:\n  slurm: {type: slurm, poll_interval: 200ms}\n',
  },
  {
    // The sshd of scripts/start-sshd.sh. The suite's recipes write markers by absolute workspace
    // path, so the host must see the workspace in place: shared_fs (staging is covered by ssh-backend.test.ts).
    name: 'ssh',
    available: async () => {
      const t = sshTarget();
      return typeof t === 'string' ? t : null;
    },
    meowYaml: () => {
      const t = sshTarget();
      if (typeof t === 'string') throw new Error(t);
      const spec = { type: 'ssh', host: t.host, port: t.port, user: t.user, identity: t.identity, ssh_args: sshTestArgs(t), shared_fs: true, cpus: 2, poll_interval: '200ms' };
      return `backends:\n  ssh: ${JSON.stringify(spec)}\n`;
    },
    maxRunning: 2,
  },
];
