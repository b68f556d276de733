import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runVigil } from '../../test/helpers/cli.js';
import { API_VERSION } from '../service/app.js';
import { VIGIL_VERSION } from './version.js';

test('the version is written once, in package.json: the CLI and the OpenAPI document say the same', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VIGIL_VERSION, version);
  assert.equal(API_VERSION, version);
  assert.equal((await runVigil(['--version'])).stdout.trim(), version);
});
