/** Resources a test opened and must close. */
const open = new Map<object, { name: string; close: () => Promise<void> | void }>();

/** Tracks a resource; returns a function that marks it closed. */
export function track(token: object, name: string, close: () => Promise<void> | void): () => void {
  open.set(token, { name, close });
  return () => void open.delete(token);
}

/** Closes everything still open; returns what was left. */
export async function closeLeaked(): Promise<string[]> {
  const left = [...open.values()];
  open.clear();
  for (const r of left) await r.close();
  return left.map((r) => r.name);
}
