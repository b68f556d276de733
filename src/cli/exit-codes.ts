/** Process exit statuses, stable for scripts. */
export const EXIT = {
  OK: 0,
  /** Some inputs failed (per-file errors were printed); the rest was processed. */
  SOME_FAILED: 1,
  /** Bad command line or configuration. */
  USAGE: 2,
  /** `vigil match`: at least one input matched a bank. */
  MATCHED: 3,
} as const;
