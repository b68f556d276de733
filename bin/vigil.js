#!/usr/bin/env node
// Installed entry point: the compiled CLI (built by `npm ci` through the `prepare` script).
const { runAsProcess } = await import('../dist/cli/main.js');
await runAsProcess();
