/**
 * Vigil's version: package.json's, read once (the one place it is written). src/core and dist/core both sit two
 * folders below the package root.
 */
import { readFileSync } from 'node:fs';

export const VIGIL_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
