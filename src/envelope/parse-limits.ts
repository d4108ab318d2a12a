/** Bounds on what the envelope parser will read. Checked before any recursive work. */
export interface ParseLimits {
  /**
   * Largest accepted input, in UTF-8 bytes. Checked first, before the text is decoded; for
   * YAML also the largest size the document may reach with its aliases expanded (measured
   * before expanding: `too-large`, code `yaml-expansion`).
   */
  maxBytes: number;
  /**
   * Deepest accepted nesting of objects and arrays; the envelope object itself is depth 1.
   * Capped at `MAX_DEPTH_CAP` (512): walkers recurse once per level.
   */
  maxDepth: number;
  /** The `maxAliasCount` handed to the YAML library (weighted: nested aliases count more). */
  maxYamlAliases: number;
}

/** @internal The largest `maxDepth` honoured, so no recursion can approach the stack limit. */
export const MAX_DEPTH_CAP = 512;

export const defaultParseLimits: ParseLimits = Object.freeze({ maxBytes: 262_144, maxDepth: 32, maxYamlAliases: 50 });

/** @internal Merges caller overrides with the defaults; no allocation when there are none. */
export function resolveLimits(overrides: Partial<ParseLimits> | undefined): ParseLimits {
  if (overrides === undefined) return defaultParseLimits;
  return {
    maxBytes: overrides.maxBytes ?? defaultParseLimits.maxBytes,
    maxDepth: Math.min(overrides.maxDepth ?? defaultParseLimits.maxDepth, MAX_DEPTH_CAP),
    maxYamlAliases: overrides.maxYamlAliases ?? defaultParseLimits.maxYamlAliases,
  };
}
