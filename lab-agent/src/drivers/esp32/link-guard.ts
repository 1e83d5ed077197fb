import { LabError, LinkClosedError } from "@hil/contracts";
import type { Disposable, SerialLink } from "../../links/serial-link.js";

/**
 * Turns "the link went away" and "the caller aborted" into prompt rejections of whatever is in
 * progress. esptool-js would otherwise notice a dead link only through its own timeouts (seconds,
 * per block) and then report a misleading protocol error.
 */
export class LinkGuard {
  private closedErr: LinkClosedError | undefined;
  private abortedErr: LabError | undefined;
  private readonly sub: Disposable;
  private readonly rejectors = new Set<(err: Error) => void>();
  private readonly onAbort = () => this.fail((this.abortedErr = new LabError("CANCELLED", `${this.what} cancelled`)));

  constructor(
    link: SerialLink,
    private readonly what: string,
    private readonly signal?: AbortSignal,
  ) {
    this.sub = link.onClose((err) => {
      if (this.closedErr) return;
      this.closedErr = new LinkClosedError(`link closed during ${what}${err ? ` (${err.message})` : ""}`, { cause: err });
      this.fail(this.closedErr);
    });
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** The error that ended the session from outside, if any (link closed beats cancelled). */
  get error(): LabError | undefined {
    return this.closedErr ?? this.abortedErr;
  }

  /** Waits for `p`, but rejects at once if the link closes or the signal aborts first. */
  race<T>(p: Promise<T>): Promise<T> {
    const early = this.error;
    if (early) {
      p.catch(() => undefined);
      return Promise.reject(early);
    }
    return new Promise<T>((resolve, reject) => {
      this.rejectors.add(reject);
      p.then(
        (v) => {
          this.rejectors.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          this.rejectors.delete(reject);
          reject(this.error ?? err);
        },
      );
    });
  }

  dispose(): void {
    this.sub.dispose();
    this.signal?.removeEventListener("abort", this.onAbort);
    this.rejectors.clear();
  }

  private fail(err: Error): void {
    for (const r of [...this.rejectors]) r(err);
    this.rejectors.clear();
  }
}
