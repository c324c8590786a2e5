import { connectEngine } from '../api/client.js';
import { linkRules } from '../rules/linker.js';
import { FanIn, type PendingSet } from '../runner/fan-in.js';
import { withStore } from './workspace.js';

/** The open fan-in groups: from the running engine, or from the database when none runs. */
export async function pendingSets(root: string): Promise<PendingSet[]> {
  const client = await connectEngine(root);
  if (client) return (await client.get<{ pending_sets?: PendingSet[] }>('/status')).pending_sets ?? [];
  return withStore(root, (store) => {
    if (!store) return [];
    const reg = store.registeredDefinitions();
    const rules = new Map(linkRules(reg.patterns, reg.recipes).rules.map((r) => [r.name, r]));
    try {
      const fan = new FanIn(store.db, (name) => rules.get(name) ?? null, () => undefined);
      fan.load();
      return fan.pending();
    } catch {
      // A database from before fan-in has no groups.
      return [];
    }
  });
}

/** Human lines for pending groups: "segment raw/scan-2: 37 of 180 files". */
export function pendingLines(sets: readonly PendingSet[]): string[] {
  if (sets.length === 0) return [];
  return [`pending sets (${sets.length}):`, ...sets.map((s) => `  ${s.pattern} ${s.key || '(all files)'}: ${s.progress}${s.due_at ? `, due ${s.due_at}` : ''}`)];
}
