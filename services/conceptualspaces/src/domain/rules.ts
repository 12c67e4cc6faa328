/** Size limits on what a command may carry; the message size limit bounds the rest. */
export const LIMITS = {
  name: 200,
  text: 500,
  dimensions: 64,
  categories: 1000,
  regions: 1000,
  boundaries: 256,
  members: 10_000,
  /** DiscoverRegions compares every pair of concepts. */
  discovery: 2000,
  /** Graph changes waiting for a missing graph version, per graph. */
  pending: 1024,
} as const;
