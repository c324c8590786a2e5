#!/usr/bin/env node
// Writes schema/*.schema.json from the parsers' key lists (src/cli/json-schema.ts).
// Run `npm run schema` after changing a definition key; a test fails until the committed files match.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA_FILES, schemaText } from '../dist/src/cli/json-schema.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schema');
mkdirSync(dir, { recursive: true });
for (const [kind, file] of Object.entries(SCHEMA_FILES)) {
  writeFileSync(join(dir, file), schemaText(kind));
  console.log(`wrote schema/${file}`);
}
