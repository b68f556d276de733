/** Test harness: a real service (SQLite in a temp folder, port 0) and keys with chosen scopes. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Scope } from '../src/auth/keys.js';
import { startService, type RunningService, type ServeOptions } from '../src/service/serve.js';
import { tempDir } from './helpers/temp.js';

export interface TestService {
  service: RunningService;
  url: string;
  dir: string;
  /** A new key with these scopes; returns its secret. */
  key(scopes: Scope[], rateLimitPerMinute?: number): Promise<string>;
  close(): Promise<void>;
}

export async function startTestService(options: Partial<ServeOptions> = {}): Promise<TestService> {
  const dir = tempDir('service');
  const service = await startService({
    storeUrl: join(dir, 'vigil.db'),
    port: 0,
    demo: false,
    demoDir: join(dir, 'demo'),
    evidenceDir: join(dir, 'evidence'),
    hashThreads: 1,
    logger: false,
    ...options,
  });
  let n = 0;
  return {
    service,
    url: service.url,
    dir,
    key: async (scopes, rateLimitPerMinute = 0) => (await service.ctx.keys.createNow({ name: `test-${++n}`, scopes, rateLimitPerMinute }, { actor: 'test' })).secret,
    close: async () => {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
