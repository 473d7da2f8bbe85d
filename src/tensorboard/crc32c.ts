/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by TFRecord framing, plus TFRecord's
 * "masked" CRC. Table-driven, slicing by 8 (eight table lookups per 8 bytes): the event-file reader checks
 * every byte of every record, and a log dir of 100 runs holds hundreds of megabytes.
 */

const POLY = 0x82f63b78;

/** TABLES[j][b]: the CRC of byte b followed by j zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let j = 0; j < 8; j++) t.push(new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let j = 1; j < 8; j++) t[j][i] = (t[0][t[j - 1][i] & 0xff] ^ (t[j - 1][i] >>> 8)) >>> 0;
  }
  return t;
})();

/**
 * Continues a CRC-32C over `bytes[start, end)`. `crc` is a previous result (0 to start a new one), so
 * `crc32c(b, crc32c(a))` equals the CRC of `a` followed by `b`.
 */
const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;

export function crc32c(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[bytes[i + 4]] ^
      t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^
      t0[bytes[i + 7]];
  }
  for (; i < end; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const MASK_DELTA = 0xa282ead8;

/** TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8 (mod 2^32). */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Inverse of {@link maskCrc}. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

/** Masked CRC-32C of `bytes[start, end)`, as stored in TFRecord headers and footers. */
export function maskedCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return maskCrc(crc32c(bytes, 0, start, end));
}
