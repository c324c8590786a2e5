import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './workspace.js';

/** A shell block marked `<!-- runnable -->` in the README or docs/. */
export interface RunnableBlock {
  file: string;
  line: number;
  code: string;
}

/** Shell blocks marked `<!-- runnable -->` in `files` (default: the README and docs/*.md), in order. */
export function runnableBlocks(files = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]): RunnableBlock[] {
  const out: RunnableBlock[] = [];
  for (const file of files) {
    const lines = readFileSync(join(REPO, file), 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (l.trim() !== '<!-- runnable -->') return;
      const fence = lines[i + 1] ?? '';
      if (!/^```(sh|bash)\s*$/.test(fence)) throw new Error(`${file}:${i + 1}: <!-- runnable --> must stand right before a \`\`\`sh block`);
      const end = lines.indexOf('```', i + 2);
      out.push({ file, line: i + 1, code: lines.slice(i + 2, end).join('\n') });
    });
  }
  return out;
}
