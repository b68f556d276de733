/** The system's Chromium for Playwright (playwright-core never downloads one): $CHROMIUM_PATH or the first usual name on the PATH. */
import { execFileSync } from 'node:child_process';

export function systemChromium(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not this one
    }
  }
  throw new Error('No Chromium found on the PATH (apt-get install chromium): the browser tests need one');
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-dev-shm-usage'];

/** At most `ms` for a clean-up step: a browser that does not close must not hold the suite. */
export const bounded = (what: string, p: Promise<unknown> | undefined, ms = 20_000) =>
  Promise.race([p, new Promise((resolve) => setTimeout(() => resolve(console.error(`${what} did not finish in ${ms} ms`)), ms).unref())]);
