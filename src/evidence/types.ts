/** What the evidence store reports about an item, whatever the blob store behind it. */
export interface EvidenceMeta {
  id: string;
  /** The master key that wraps the item's data key. */
  keyId: string;
  /** SHA-256 of the plaintext, hex. */
  sha256: string;
  /** Plaintext bytes. */
  size: number;
}

/**
 * The evidence record row (kept by the state layer, not by the evidence store): the store's metadata plus
 * what preservation law needs. `retainUntil` is null until a report starts the clock; a legal hold
 * suspends deletion whatever `retainUntil` says.
 */
export interface EvidenceRecord extends EvidenceMeta {
  createdAt: string;
  /** Where the blob lives: 'folder' or 'postgres'. */
  store: 'folder' | 'postgres';
  contentId: string | null;
  decisionId: number | null;
  retainUntil: string | null;
  legalHold: boolean;
  legalHoldReason: string | null;
}
