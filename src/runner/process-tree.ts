/**
 * Signals a job's whole process group. Jobs are spawned `detached`, so each
 * is the leader of its own group and children it forks share it.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      // Not a group leader (or already reaped): signal the process itself.
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
