/**
 * A self-contained evidence package for law enforcement, one folder (0700, files 0600): the report XML as
 * submitted, NCMEC's responses, the files (decrypted, verified on the way out), a hashdeep manifest of every file
 * in the package (`hashdeep -a -k manifest.hashdeep -r .` audits it) and a summary signed with Ed25519
 * (`summary.json` + `summary.sig`, key id inside; verify with the public key the operator hands over).
 * Each evidence read is audited with its purpose; the export itself too.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { keyIdOf } from '../audit/checkpoint.js';
import type { AuditLog } from '../audit/log.js';
import type { Role } from '../auth/users.js';
import { canonicalJson } from '../core/canonical-json.js';
import { VigilError } from '../core/errors.js';
import { writeHashdeep } from '../lists/hashdeep.js';
import type { EvidenceRetention } from './retention.js';
import type { Actor, ReportService } from './service.js';

export interface ExportedPackage {
  dir: string;
  files: { path: string; size: number; md5: string; sha256: string }[];
  summarySha256: string;
  keyId: string;
}

function privateWrite(path: string, text: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  writeFileSync(path, bytes, { mode: 0o600, flag: 'wx' });
  return bytes;
}

function digests(bytes: Buffer): { size: number; md5: string; sha256: string } {
  return { size: bytes.length, md5: createHash('md5').update(bytes).digest('hex'), sha256: createHash('sha256').update(bytes).digest('hex') };
}

export async function exportPackage(
  o: { reports: ReportService; retention: EvidenceRetention; audit: AuditLog; now?: () => Date },
  reportId: number, dir: string, who: Actor & { role: Role }, signingKey: KeyObject,
): Promise<ExportedPackage> {
  const report = await o.reports.get(reportId);
  if (!report) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No report ${reportId}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (readdirSync(dir).length > 0) throw new VigilError('VIGIL_ERR_CONFLICT', `${dir} is not empty: a package goes into a new folder`);
  mkdirSync(join(dir, 'files'), { mode: 0o700 });
  const xml = await o.reports.xmlOf(reportId);
  const listed: ExportedPackage['files'] = [];
  listed.push({ path: 'report.xml', ...digests(privateWrite(join(dir, 'report.xml'), xml)) });
  listed.push({ path: 'ncmec-responses.json', ...digests(privateWrite(join(dir, 'ncmec-responses.json'), JSON.stringify(await o.reports.responses(reportId), null, 2))) });
  for (const f of report.files) {
    const name = `files/${String(f.ordinal).padStart(3, '0')}-${f.fileName.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const md5 = createHash('md5');
    const sha = createHash('sha256');
    let size = 0;
    const tap = new Transform({ transform(chunk: Buffer, _e, done) { md5.update(chunk); sha.update(chunk); size += chunk.length; done(null, chunk); } });
    // Through the role check and the audit (EvidenceRetention.read), verified chunk by chunk and at the end.
    await pipeline(await o.retention.read(f.evidenceId, who, `law-enforcement export of report ${reportId}`), tap, createWriteStream(join(dir, name), { mode: 0o600, flags: 'wx' }));
    const sha256 = sha.digest('hex');
    if (sha256 !== f.sha256) throw new VigilError('VIGIL_ERR_EVIDENCE_INTEGRITY', `Evidence ${f.evidenceId} exported with SHA-256 ${sha256}, recorded ${f.sha256}`);
    listed.push({ path: name, size, md5: md5.digest('hex'), sha256 });
  }
  let manifest = '';
  for await (const chunk of writeHashdeep(listed.map((l) => ({ signals: [{ type: 'md5', value: l.md5 }, { type: 'sha256', value: l.sha256 }], labels: {}, fileName: l.path, fileSize: l.size })))) manifest += chunk;
  const manifestBytes = privateWrite(join(dir, 'manifest.hashdeep'), manifest);
  const keyId = keyIdOf(signingKey);
  const summary = {
    kind: 'vigil.law-enforcement-package', version: 1,
    generatedAt: (o.now?.() ?? new Date()).toISOString(), generatedBy: who.actor, keyId,
    report: { id: report.id, incidentId: report.incidentId, ncmecReportId: report.ncmecReportId, state: report.state, submittedAt: report.submittedAt, finishedAt: report.finishedAt, jurisdiction: report.jurisdiction },
    files: report.files.map((f) => ({ fileName: f.fileName, sha256: f.sha256, viewedByPerson: f.viewedByPerson, ncmecFileId: f.ncmecFileId })),
    manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
  };
  const summaryBytes = privateWrite(join(dir, 'summary.json'), canonicalJson(summary));
  privateWrite(join(dir, 'summary.sig'), `${sign(null, summaryBytes, signingKey).toString('base64')}\n`);
  await o.audit.appendNow({ actor: who.actor, requestId: who.requestId ?? null, action: 'report.exported', subject: `report:${reportId}`, details: { keyId, manifestSha256: summary.manifestSha256, files: listed.length } });
  return { dir, files: listed, summarySha256: createHash('sha256').update(summaryBytes).digest('hex'), keyId };
}
