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

export type MatchPrecision = 'default' | 'loose';
/** What a bank lets a degenerate hash (its own or the query's) match: the identical hash only, or nothing. */
export type DegeneratePolicy = 'exact' | 'none';
export const DEGENERATE_POLICIES = ['exact', 'none'] as const satisfies readonly DegeneratePolicy[];
export type MatchConfidence = 'high' | 'medium' | 'low';
export const MATCH_CONFIDENCES = ['high', 'medium', 'low'] as const satisfies readonly MatchConfidence[];

/** How a perceptual match was made: which rule admitted it, at what distance, with what qualities. */
export interface MatchRule {
  /** original: the picture as uploaded; orientation: it turned or flipped; view / view-orientation: a derived view (trimmed, uncropped, rescaled…). */
  rule: 'original' | 'orientation' | 'view' | 'view-orientation' | 'degenerate-exact' | 'frame' | 'video';
  distance: number;
  /** The most this rule allowed for this bank. */
  maxDistance: number;
  /** PDQ quality of the query view that matched (0..100). */
  queryQuality?: number;
  /** Whether the bank's hash or the query's is degenerate (constant, one value, periodic). */
  degenerate?: boolean;
}

export interface PerceptualHit {
  view: string;
  dihedral: DihedralName;
  distance: number;
  quality: number;
  queryDegenerate: boolean;
  bankDegenerate: boolean;
  /** A video frame (the vPDQ rule's own quality gate applies; views are not involved). */
  frame: boolean;
}

/**
 * Per rule, calibrated on bench:precision (docs/matching.md): the largest distance at which the rule's
 * false pairs per query stay at or below the reference's, and the query quality it needs.
 */
export const CALIBRATION = {
  original: { maxDistance: 31, minQuality: 50, highBelow: 31 },
  orientation: { maxDistance: 31, minQuality: 50 },
  view: { maxDistance: 31, minQuality: 50 },
  viewOrientation: { maxDistance: 31, minQuality: 50 },
} as const;

/**
 * The rule that admits a hit at a bank (threshold `bankMax`, degenerate policy `degenerate`), or undefined.
 */
export function admitHit(hit: PerceptualHit, bankMax: number, degenerate: DegeneratePolicy, precision: MatchPrecision): (MatchRule & { confidence: MatchConfidence }) | undefined {
  const isDegenerate = hit.queryDegenerate || hit.bankDegenerate;
  const base = { distance: hit.distance, queryQuality: hit.quality, ...(isDegenerate ? { degenerate: true } : {}) };
  if (isDegenerate) {
    // A hash made of one value or one repeated row says little about its picture: identical or nothing.
    if (degenerate === 'none' || hit.distance !== 0) return undefined;
    return { rule: 'degenerate-exact', maxDistance: 0, confidence: 'low', ...base };
  }
  const original = hit.view === 'original' || hit.frame;
  const turned = hit.dihedral !== 'orig';
  const rule: MatchRule['rule'] = hit.frame ? 'frame' : original ? (turned ? 'orientation' : 'original') : turned ? 'view-orientation' : 'view';
  if (precision === 'loose') {
    if (hit.distance > bankMax || hit.quality < CALIBRATION.original.minQuality) return undefined;
    return { rule, maxDistance: bankMax, confidence: rule === 'original' || rule === 'frame' ? 'medium' : 'low', ...base };
  }
  const c = rule === 'original' || rule === 'frame' ? CALIBRATION.original : rule === 'orientation' ? CALIBRATION.orientation : rule === 'view' ? CALIBRATION.view : CALIBRATION.viewOrientation;
  const maxDistance = Math.min(bankMax, c.maxDistance);
  if (hit.distance > maxDistance || hit.quality < c.minQuality) return undefined;
  const high = (rule === 'original' || rule === 'frame') && hit.distance <= CALIBRATION.original.highBelow;
  return { rule, maxDistance, confidence: high ? 'high' : 'medium', ...base };
}
