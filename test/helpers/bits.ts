/** Bit-for-bit comparison of float32 arrays (NaN payloads and the sign of zero included). */
export function bitwiseEqual(a: Float32Array[], b: Float32Array[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const v = new Uint32Array(b[i].buffer, b[i].byteOffset, b[i].length);
    return u.length === v.length && u.every((w, j) => w === v[j]);
  });
}
