/**
 * The recipes that run as they are (bash): each job directory holds the
 * recipe that ran as `recipe.sh`, a hard link to one stored copy per recipe
 * content in `.meow/recipes/<sha256>.sh`. Creating a file costs an inode
 * (about half a millisecond on ext4 once many files were deleted), a link
 * only a directory entry. Stored copies are read-only: one edited in place
 * would change every job's. Where a link cannot be made (a filesystem
 * without hard links, or the inode's link limit reached) the job gets a copy
 * of its own; a full link count starts a new stored copy.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { linkQuick, mkdirQuick, writeSmall } from '../core/quick-io.js';
import type { ParsedRecipe } from '../core/types.js';

/** Where the stored copies live, workspace-relative. */
export const RECIPE_STORE = '.meow/recipes';

/** Puts `recipe` (its loaded text: the version the job's rule names) at `to`. */
export async function placeRecipe(root: string, recipe: ParsedRecipe, to: string): Promise<void> {
  const stored = join(root, RECIPE_STORE, `${recipe.hash}${extname(recipe.file)}`);
  for (let tries = 0; tries < 3; tries++) {
    try {
      await linkQuick(stored, to);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Left by an earlier attempt: replaced (never written through: it may be a link to the stored copy).
      if (code === 'EEXIST') await rm(to, { force: true });
      // Not stored yet, or its link count is full: (re)store it and link again.
      else if (code !== 'ENOENT' && code !== 'EMLINK') break;
      else if (!(await store(root, recipe, stored))) break;
    }
  }
  await rm(to, { force: true });
  await writeSmall(to, recipe.source);
}

/** Writes the stored copy whole (a temporary file renamed into place); false when it cannot. */
async function store(root: string, recipe: ParsedRecipe, stored: string): Promise<boolean> {
  const tmp = `${stored}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdirQuick(join(root, RECIPE_STORE), true);
    await writeSmall(tmp, recipe.source, 0o444);
    await rename(tmp, stored);
    return true;
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
    return false;
  }
}
