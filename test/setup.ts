import { afterEach } from 'vitest';
import { closeLeaked } from './helpers/resources.js';

// Every test closes what it opens; one that leaves a watcher, engine, pool,
// process or database open fails here (and the leak is cleaned up).
afterEach(async () => {
  const leaked = await closeLeaked();
  if (leaked.length > 0) throw new Error(`test left open: ${leaked.join(', ')}`);
});
