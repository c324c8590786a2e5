import { bashThroughput } from './bash-throughput.js';
import { cascade } from './cascade.js';
import { drop } from './drop.js';
import { fanIn } from './fan-in.js';
import { history } from './history.js';
import { latency } from './latency.js';
import { matching } from './matching.js';
import { memory } from './memory.js';
import { newPattern } from './new-pattern.js';
import { notebooks } from './notebooks.js';
import { remoteWorkload } from './remote.js';
import { slurmBackend, sshBackend } from './remote-backends.js';
import { restart } from './restart.js';
import type { Workload } from '../lib/types.js';

/** The workloads of issue 6 in order (8 uses 1's figure as its baseline), then remote events, fan-in, and issue 18's remote backends (12 SSH, 13 Slurm) and its million jobs (14). */
export const WORKLOADS: readonly Workload[] = [drop, bashThroughput, latency, matching, newPattern, restart, memory, cascade, notebooks, remoteWorkload, fanIn, sshBackend, slurmBackend, history];
