/**
 * Bytes that arrived in chunks and are consumed from the front, without concatenating on every
 * arrival: a stream's 16 KiB chunks become 64 KiB segments or 1 MiB frames with one copy at most.
 */
export class ChunkQueue {
  private readonly chunks: Array<Buffer | undefined> = [];
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.size += chunk.length;
  }

  /** Removes and returns the first `n` bytes (a view when they lie in one chunk, a copy otherwise). */
  take(n: number): Buffer {
    if (n > this.size) throw new RangeError(`cannot take ${n} bytes from a queue of ${this.size}`);
    this.size -= n;
    const first = this.chunks[this.head];
    if (first && first.length >= n) {
      if (first.length === n) this.shift();
      else this.chunks[this.head] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.at(this.head);
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.shift();
      else this.chunks[this.head] = chunk.subarray(used);
    }
    return out;
  }

  /** Copies up to `n` bytes from the front, as many as have arrived. */
  peekUpTo(n: number): Buffer {
    return this.peek(0, Math.min(n, this.size)) ?? Buffer.alloc(0);
  }

  /** Removes and returns everything queued. */
  takeAll(): Buffer {
    return this.take(this.size);
  }

  /** Copies `n` bytes starting `offset` bytes into the queue, or undefined if they have not all arrived. */
  peek(offset: number, n: number): Buffer | undefined {
    if (offset + n > this.size) return undefined;
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let skip = offset;
    for (let i = this.head; filled < n; i++) {
      const chunk = this.at(i);
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const used = Math.min(chunk.length - skip, n - filled);
      chunk.copy(out, filled, skip, skip + used);
      filled += used;
      skip = 0;
    }
    return out;
  }

  private at(index: number): Buffer {
    const chunk = this.chunks[index];
    if (!chunk) throw new Error(`chunk queue out of step: no chunk at ${index}`);
    return chunk;
  }

  private shift(): void {
    this.chunks[this.head] = undefined;
    this.head++;
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }
}
