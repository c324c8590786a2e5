#!/usr/bin/env node
// Before the engine's modules load, whose loading would grow V8's young generation (core/heap.ts).
import { keepYoungGenerationSmall } from '../dist/src/core/heap.js';

keepYoungGenerationSmall();
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv);
