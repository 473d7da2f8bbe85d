/** Types of preprocess.js (the demo is plain JS; the tests are TypeScript). */
export declare function inkBox(ink: ArrayLike<number>, width: number, height: number): { x0: number; y0: number; x1: number; y1: number } | null;
export declare function toMnist(ink: ArrayLike<number>, width: number, height: number, box?: number): Float32Array | null;
export declare function inkFromRgba(rgba: ArrayLike<number>): Float32Array;
