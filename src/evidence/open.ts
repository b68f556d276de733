/**
 * Opening the evidence store from configuration: where (a folder, or a postgres:// URL for a fleet) and
 * which master keys (configured, or a key file; a key file generated beside a folder store is for the demo
 * and says so). Only `evidenceConfigFromEnv` reads the environment, for the entry points.
 */
import { FolderBlobStore } from './folder-blob-store.js';
import { KeyRing, loadOrCreateKeyFile } from './keyring.js';
import { PostgresBlobStore } from './postgres-blob-store.js';
import { EvidenceStore } from './store.js';
import { VigilError } from '../core/errors.js';

export interface EvidenceConfig {
  /** A folder path, or a postgres:// URL. */
  location: string;
  /** PostgreSQL schema for the tables (tests); default the connection's search_path. */
  schema?: string;
  /** Master keys in the text form (`id:base64`, comma or newline separated). */
  keys?: string;
  /** The id of the key that wraps new items; default the last one listed. */
  activeKey?: string;
  /** A key file (same text form); default `<folder>.key`, created when missing, for a folder store only. */
  keyFile?: string;
}

export interface OpenedEvidence {
  store: EvidenceStore;
  /** Where the keys came from: 'config' or the key file's path. */
  keySource: string;
  /** Something the operator should hear at start-up. */
  warnings: string[];
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** Configuration from VIGIL_EVIDENCE_STORE, VIGIL_EVIDENCE_KEYS (or the single-key VIGIL_EVIDENCE_KEY), VIGIL_EVIDENCE_ACTIVE_KEY, VIGIL_EVIDENCE_KEY_FILE. */
export function evidenceConfigFromEnv(env: NodeJS.ProcessEnv, defaultLocation: string): EvidenceConfig {
  const keys = env.VIGIL_EVIDENCE_KEYS ?? env.VIGIL_EVIDENCE_KEY;
  return {
    location: env.VIGIL_EVIDENCE_STORE || defaultLocation,
    ...(keys ? { keys } : {}),
    ...(env.VIGIL_EVIDENCE_ACTIVE_KEY ? { activeKey: env.VIGIL_EVIDENCE_ACTIVE_KEY } : {}),
    ...(env.VIGIL_EVIDENCE_KEY_FILE ? { keyFile: env.VIGIL_EVIDENCE_KEY_FILE } : {}),
  };
}

/** The key file in use, or undefined when the keys come from configuration. */
export function keyFileOf(config: EvidenceConfig): string | undefined {
  return config.keys ? undefined : (config.keyFile ?? `${config.location}.key`);
}

export function keyRingOf(config: EvidenceConfig): { ring: KeyRing; keySource: string; warnings: string[] } {
  if (config.keys) return { ring: new KeyRing(KeyRing.parse(config.keys, 'VIGIL_EVIDENCE_KEYS'), config.activeKey), keySource: 'config', warnings: [] };
  if (!config.keyFile && isPostgresUrl(config.location)) {
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Evidence in PostgreSQL needs its master keys from configuration (VIGIL_EVIDENCE_KEYS or VIGIL_EVIDENCE_KEY_FILE): a key generated on one machine would be unknown to the others');
  }
  const keyFile = config.keyFile ?? `${config.location}.key`;
  const { keys, generated } = loadOrCreateKeyFile(keyFile);
  const warnings = config.keyFile
    ? []
    : [`evidence master key ${generated ? 'generated in' : 'read from'} ${keyFile}, beside the evidence: it protects a copied evidence folder, not a stolen disk. For production set VIGIL_EVIDENCE_KEYS from a secrets manager.`];
  return { ring: new KeyRing(keys, config.activeKey), keySource: keyFile, warnings };
}

export async function openEvidenceStore(config: EvidenceConfig): Promise<OpenedEvidence> {
  if (isPostgresUrl(config.location)) {
    const { ring, keySource, warnings } = keyRingOf(config);
    return { store: new EvidenceStore(await PostgresBlobStore.open(config.location, config.schema), ring), keySource, warnings };
  }
  // The folder first: it creates the parent folders the default key file sits in.
  const blobs = await FolderBlobStore.open(config.location);
  const { ring, keySource, warnings } = keyRingOf(config);
  return { store: new EvidenceStore(blobs, ring), keySource, warnings };
}
