/** A tar archive in memory (tests and bench:triage): tar-stream's packer, collected into one buffer. */
import * as tar from 'tar-stream';

export async function makeTar(entries: { name: string; data: Buffer | string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name }, e.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
