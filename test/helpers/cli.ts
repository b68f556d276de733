/** The `vigil` command line run in-process through `main()`, with its output captured. */
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export async function runVigil(args: string[], env: Record<string, string | undefined> = process.env): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const status = await main(args, { stdout, stderr, env });
  if (process.env.VIGIL_DEBUG_CLI) console.error(args.join(' '), status, stderr.text);
  return { status, stdout: stdout.text, stderr: stderr.text };
}
