/**
 * Helpers for the names a user types, kept as string unions so a typo fails to compile and editors complete
 * them. Each union is derived from the canonical (tfjs camelCase) names the library resolves at run time, plus
 * the spellings Keras accepts for the same thing; run-time resolution stays lenient for JavaScript callers and
 * names every valid choice when it refuses one.
 */

/** `glorotUniform` → `glorot_uniform`. */
export type SnakeCase<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${SnakeCase<T>}` : S;

export type OptimizerName = 'adam' | 'sgd' | 'rmsprop';
export type MetricIdentifier = 'accuracy' | 'acc';
