import { LocalBackend } from './local/local-backend.js';
import { SlurmBackend } from './slurm/slurm-backend.js';
import { SshBackend } from './ssh/ssh-backend.js';
import type { Backend } from '../backend.js';
import type { WorkspaceConfig } from '../../core/types.js';

/**
 * One backend per entry of meow.yaml's `backends` (a `local` one always
 * exists). `warn` receives what remote backends want a person to know
 * (a failing `squeue`, a dropped connection).
 */
export function createBackends(config: WorkspaceConfig, warn: (message: string) => void = (m) => console.warn(m)): Map<string, Backend> {
  const out = new Map<string, Backend>();
  for (const b of Object.values(config.backends)) {
    switch (b.type) {
      case 'local':
        out.set(b.name, new LocalBackend(b.name, config, b.options, warn));
        break;
      case 'slurm':
        out.set(b.name, new SlurmBackend(b, config, warn));
        break;
      case 'ssh':
        out.set(b.name, new SshBackend(b, config, warn));
        break;
      default: {
        const never: never = b.type;
        throw new Error(`unknown backend type ${String(never)}`);
      }
    }
  }
  return out;
}
