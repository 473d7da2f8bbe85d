/**
 * The arena: a first-fit allocator over the wasm linear memory above `__heap_base`, with coalescing free
 * blocks. Blocks are 64-byte aligned (a cache line; SIMD loads never straddle one at a block start).
 * Memory grows on demand up to the limit chosen at init; running out is an Error that says how much was
 * asked, how much is in use and what the limit is — never a trap.
 *
 * WebAssembly memory never shrinks: what the arena once grew to stays reserved by the process until the
 * backend is disposed (`disposeBackend()`), even when every block is free again; `memory()` reports both.
 * An operation that fails half-way (out of memory while building a model or a plan) must not keep what it
 * took: `scope` gives it back, so the arena is where it was before the call.
 */
const ALIGN = 64;
const PAGE = 65536;

export class OutOfMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutOfMemoryError';
  }
}

/** What the arena needs of a WebAssembly.Memory; declared here so the published types need no WebAssembly lib. */
export interface LinearMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

interface FreeBlock {
  ptr: number;
  size: number;
}

export class Arena {
  private free: FreeBlock[] = []; // sorted by ptr
  private readonly used = new Map<number, number>(); // ptr → size
  /** ptr → serial number of the allocation living there: tells a block from a later one at the same address. */
  private readonly serials = new Map<number, number>();
  private nextSerial = 1;
  /** Open scopes, innermost last: the blocks each allocated (ptr → serial). */
  private readonly scopes: Map<number, number>[] = [];
  private end: number; // first byte past the managed region
  private inUse = 0;
  private peak = 0;

  constructor(
    readonly memory: LinearMemory,
    private readonly base: number,
    private readonly maxBytes: number,
  ) {
    const start = align(base);
    this.end = start;
    const size = memory.buffer.byteLength;
    if (size > start) {
      this.free.push({ ptr: start, size: size - start });
      this.end = size;
    }
  }

  /** Bytes currently allocated, and the most ever allocated at once. */
  stats(): { inUse: number; peak: number; memoryBytes: number; maxBytes: number } {
    return { inUse: this.inUse, peak: this.peak, memoryBytes: this.memory.buffer.byteLength, maxBytes: this.maxBytes };
  }

  /**
   * Runs `f`; if it throws, every block allocated inside it that is still allocated is released, so a
   * failed operation leaves the arena as it found it. Tensors whose blocks were released that way report
   * `isDisposed` (see `isLive`) and releasing them again is a no-op. Scopes nest.
   */
  scope<T>(f: () => T): T {
    const mine = new Map<number, number>();
    this.scopes.push(mine);
    let ok = false;
    try {
      const r = f();
      ok = true;
      return r;
    } finally {
      this.scopes.pop();
      if (ok) {
        const outer = this.scopes[this.scopes.length - 1];
        if (outer) for (const [p, s] of mine) outer.set(p, s);
      } else {
        for (const [p, s] of mine) if (this.serials.get(p) === s) this.release(p);
      }
    }
  }

  /** Serial number of the allocation at `ptr` (0 if none). */
  serialOf(ptr: number): number {
    return this.serials.get(ptr) ?? 0;
  }

  /** Whether allocation `serial` still lives at `ptr` (false once released, even if the address was reused). */
  isLive(ptr: number, serial: number): boolean {
    return this.serials.get(ptr) === serial;
  }

  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`wasm-layers: cannot allocate ${bytes} bytes`);
    const size = Math.max(ALIGN, align(bytes));
    let i = this.free.findIndex((b) => b.size >= size);
    if (i < 0) {
      this.grow(size);
      i = this.free.findIndex((b) => b.size >= size);
    }
    const b = this.free[i];
    const ptr = b.ptr;
    if (b.size === size) this.free.splice(i, 1);
    else {
      b.ptr += size;
      b.size -= size;
    }
    this.used.set(ptr, size);
    const serial = this.nextSerial++;
    this.serials.set(ptr, serial);
    this.scopes[this.scopes.length - 1]?.set(ptr, serial);
    this.inUse += size;
    this.peak = Math.max(this.peak, this.inUse);
    return ptr;
  }

  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new Error(`wasm-layers: double free or foreign pointer ${ptr}`);
    this.used.delete(ptr);
    this.serials.delete(ptr);
    this.inUse -= size;
    // insert keeping order, then merge with neighbours
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.free[mid].ptr < ptr) lo = mid + 1;
      else hi = mid;
    }
    this.free.splice(lo, 0, { ptr, size });
    this.mergeAround(lo);
  }

  private mergeAround(i: number): void {
    const next = this.free[i + 1];
    const cur = this.free[i];
    if (next && cur.ptr + cur.size === next.ptr) {
      cur.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.ptr + prev.size === cur.ptr) {
      prev.size += cur.size;
      this.free.splice(i, 1);
    }
  }

  private grow(size: number): void {
    const last = this.free[this.free.length - 1];
    const tailFree = last && last.ptr + last.size === this.end ? last.size : 0;
    const need = size - tailFree;
    const cur = this.memory.buffer.byteLength;
    // grow geometrically (×1.5) so a sequence of allocations does not grow page by page
    const wantBytes = Math.max(need, Math.floor(cur / 2));
    const limitLeft = this.maxBytes - cur;
    const bytes = Math.min(Math.max(need, Math.min(wantBytes, limitLeft)), Math.max(limitLeft, 0));
    const pages = Math.ceil(bytes / PAGE);
    if (need > limitLeft || pages <= 0) throw this.oom(size);
    try {
      this.memory.grow(pages);
    } catch {
      throw this.oom(size);
    }
    const added = pages * PAGE;
    if (tailFree) last.size += added;
    else this.free.push({ ptr: this.end, size: added });
    this.end += added;
  }

  private oom(size: number): OutOfMemoryError {
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
    return new OutOfMemoryError(
      `wasm-layers: out of wasm memory: cannot allocate ${mb(size)} (${mb(this.inUse)} in use of a ${mb(this.maxBytes)} limit). ` +
        'Dispose tensors and models you no longer need, use smaller batches, or raise init({ maxMemoryMB }).',
    );
  }
}

export function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
