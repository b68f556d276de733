/**
 * Which perceptual hits count as matches, and how sure each is. The picture as uploaded keeps Meta's
 * reference rule (distance ≤ the bank's threshold, 31 by default, quality ≥ 50). Every other way of
 * matching — another orientation, a derived view — must earn its distance: it only matches where its
 * false-match rate, measured on the benign bench:precision collection, is no worse than the reference's
 * (docs/matching.md, "Precision"). Degenerate hashes (signals/pdq/degenerate.ts) never match loosely.
 *
 * `loose` is the pre-calibration behaviour (every view and orientation at the bank's threshold), for
 * triage and investigators who ask for it explicitly; its matches are never `high` confidence.
 */
import type { DihedralName } from '../signals/pdq/pdq.js';

export type MatchPrecision = 'strict' | 'default' | 'loose';
export const MATCH_PRECISIONS = ['strict', 'default', 'loose'] as const satisfies readonly MatchPrecision[];
/** What a bank lets a degenerate hash (its own or the query's) match: the identical hash only, or nothing. */
export type DegeneratePolicy = 'exact' | 'none';
export const DEGENERATE_POLICIES = ['exact', 'none'] as const satisfies readonly DegeneratePolicy[];
export type MatchConfidence = 'high' | 'medium' | 'low';
export const MATCH_CONFIDENCES = ['high', 'medium', 'low'] as const satisfies readonly MatchConfidence[];

/** How a perceptual match was made: which rule admitted it, at what distance, with what qualities. */
export interface MatchRule {
  /**
   * original: the picture as uploaded; orientation: it turned or flipped; view / view-orientation: a
   * derived view (trimmed, uncropped, rescaled…), as is or turned; degenerate-exact: a degenerate hash
   * matched identically; frame / video: video rules.
   */
  rule: 'original' | 'orientation' | 'view' | 'view-orientation' | 'degenerate-exact' | 'frame' | 'video';
  distance: number;
  /** The most this rule allowed for this bank. */
  maxDistance: number;
  /** PDQ quality of the query view that matched (0..100). */
  queryQuality?: number;
  /** Distance of the picture as uploaded (its own hash, unturned) to the same bank hash. */
  originalDistance?: number;
  /** Whether the bank's hash or the query's is degenerate (constant, one value, periodic). */
  degenerate?: boolean;
}

export interface PerceptualHit {
  view: string;
  dihedral: DihedralName;
  distance: number;
  quality: number;
  /** Distance of the query's own unturned hash to the same bank hash. */
  originalDistance: number;
  queryDegenerate: boolean;
  bankDegenerate: boolean;
  /** A video frame (matched as a picture as uploaded). */
  frame: boolean;
}

/**
 * Calibrated on bench:precision (docs/matching.md, "Precision"). The gap is how much closer the turned
 * or derived hash must be than the picture's own hash: a rotated copy's own hash is ~128 bits from the
 * list's (unrelated), its turned hash close; a flat or symmetric picture is close both ways, and its
 * turned hashes are what produced most false pairs.
 */
export const CALIBRATION = {
  minQuality: 50,
  /** The picture turned or flipped: within the bank's threshold, and 32 bits closer than unturned. */
  orientation: { gap: 32 },
  /** A derived view, unturned: within the bank's threshold. */
  view: { gap: 0 },
  /** A derived view turned: only the 64×64 rescale (rotated thumbnails), ≤ 30 and 32 bits closer; not in 'strict'. */
  viewOrientation: { views: new Set(['rescaled-64']), maxDistance: 30, gap: 32 },
} as const;

/** The rule that admits a hit at a bank (threshold `bankMax`, degenerate policy `degenerate`), or undefined. */
export function admitHit(hit: PerceptualHit, bankMax: number, degenerate: DegeneratePolicy, precision: MatchPrecision): (MatchRule & { confidence: MatchConfidence }) | undefined {
  const isDegenerate = hit.queryDegenerate || hit.bankDegenerate;
  const base = { distance: hit.distance, queryQuality: hit.quality, originalDistance: hit.originalDistance, ...(isDegenerate ? { degenerate: true } : {}) };
  if (hit.quality < CALIBRATION.minQuality) return undefined;
  if (isDegenerate) {
    // A hash made of one value or one repeated row says little about its picture: identical or nothing,
    // and only for the picture as uploaded (a trimmed or turned flat picture is just as flat).
    if (degenerate === 'none' || hit.distance !== 0 || hit.view !== 'original' || hit.dihedral !== 'orig') return undefined;
    return { rule: 'degenerate-exact', maxDistance: 0, confidence: 'low', ...base };
  }
  const original = hit.view === 'original' || hit.frame;
  const turned = hit.dihedral !== 'orig';
  const rule: MatchRule['rule'] = hit.frame && !turned ? 'frame' : original ? (turned ? 'orientation' : 'original') : turned ? 'view-orientation' : 'view';
  if (hit.distance > bankMax) return undefined;
  if (precision === 'loose') return { rule, maxDistance: bankMax, confidence: rule === 'original' || rule === 'frame' ? 'medium' : 'low', ...base };
  if (rule === 'original' || rule === 'frame') return { rule, maxDistance: bankMax, confidence: 'high', ...base };
  const gap = hit.originalDistance - hit.distance;
  if (rule === 'orientation' && gap < CALIBRATION.orientation.gap) return undefined;
  if (rule === 'view' && gap < CALIBRATION.view.gap) return undefined;
  let maxDistance = bankMax;
  if (rule === 'view-orientation') {
    const c = CALIBRATION.viewOrientation;
    maxDistance = Math.min(bankMax, c.maxDistance);
    if (precision === 'strict' || !c.views.has(hit.view) || hit.distance > maxDistance || gap < c.gap) return undefined;
  }
  return { rule, maxDistance, confidence: 'medium', ...base };
}
