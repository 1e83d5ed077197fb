/**
 * A pull reader over pushed chunks. Service protocols (sync, shell v2) are byte streams whose
 * messages do not line up with WRTE boundaries (PROTOCOLS.md §B.4), so services read exact counts.
 */
export class StreamEndedError extends Error {
  override readonly name = "StreamEndedError";
}

export class ByteQueue {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;

  get length(): number {
    return this.buffered;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): void {
    if (this.ended || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.serve();
  }

  end(): void {
    this.ended = true;
    this.serve();
  }

  /** Resolves with exactly `n` bytes; rejects with StreamEndedError if the stream ends first. */
  read(n: number): Promise<Buffer> {
    if (this.waiter) return Promise.reject(new Error("ByteQueue allows one reader at a time"));
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
      this.serve();
    });
  }

  /** Whatever is buffered (at least one byte), or null at the end of the stream. */
  async readSome(): Promise<Buffer | null> {
    if (this.buffered === 0 && this.ended) return null;
    const first = await this.read(Math.max(1, Math.min(this.buffered, this.chunks[0]?.length ?? 1))).catch((err: unknown) => {
      if (err instanceof StreamEndedError) return null;
      throw err;
    });
    return first;
  }

  private serve(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.buffered >= w.n) {
      this.waiter = undefined;
      w.resolve(this.take(w.n));
    } else if (this.ended) {
      this.waiter = undefined;
      w.reject(new StreamEndedError(`stream ended with ${this.buffered} of ${w.n} bytes`));
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
