/** Non-finite values (NaN, Infinity) in a step's loss or gradients: found where they arise, reported by name. */

/** Thrown when a step's loss or gradients are not finite and --skip-nonfinite is off. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

/** The first non-finite value among the named arrays, described ('NaN at index 12 of the ...'); null if none. */
export function firstNonFinite(named: readonly [name: string, values: Float32Array][]): string | null {
  for (const [name, values] of named) {
    const i = nonFiniteIndex(values);
    if (i >= 0) return `${values[i]} at index ${i} of the ${name}`;
  }
  return null;
}

/** Index of the first NaN or Infinity, or -1. Float32Array only, so V8 keeps this loop monomorphic. */
function nonFiniteIndex(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) return i; // 0 for every finite number, NaN otherwise: one subtraction per element
  }
  return -1;
}

/**
 * Fault injection for tests and drills: DDP_INJECT_NAN=STEP:RANK puts a NaN into that rank's dense gradient
 * at that step (1-based), as a diverging or corrupted step would. Returns null when unset.
 */
export function injectedNaN(env: NodeJS.ProcessEnv): { step: number; rank: number } | null {
  const spec = env.DDP_INJECT_NAN;
  if (!spec) return null;
  const m = /^(\d+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`DDP_INJECT_NAN='${spec}': expected STEP:RANK`);
  return { step: Number(m[1]), rank: Number(m[2]) };
}
