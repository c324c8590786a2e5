import { LocalBackend } from './local-backend.js';
import { SlurmBackend } from './slurm-backend.js';
import { SshBackend } from './ssh-backend.js';
import type { Backend } from './backend.js';
import type { WorkspaceConfig } from '../core/types.js';

/** One backend per entry of meow.yaml's `backends` (a `local` one always exists). */
export function createBackends(config: WorkspaceConfig): Map<string, Backend> {
  const out = new Map<string, Backend>();
  for (const b of Object.values(config.backends)) {
    switch (b.type) {
      case 'local':
        out.set(b.name, new LocalBackend(b.name, config, b.options));
        break;
      case 'slurm':
        out.set(b.name, new SlurmBackend(b, config));
        break;
      case 'ssh':
        out.set(b.name, new SshBackend(b, config));
        break;
      default: {
        const never: never = b.type;
        throw new Error(`unknown backend type ${String(never)}`);
      }
    }
  }
  return out;
}
