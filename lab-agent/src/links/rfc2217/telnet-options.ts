import { DO, DONT, negotiation, WILL, WONT, type NegotiationVerb } from "./telnet-codec.js";

/**
 * Which TELNET options are on, for each side, and the one reply each request deserves.
 * Answering only on a change of state is what keeps two peers from negotiating forever (RFC 854).
 */
export class TelnetOptions {
  private readonly local = new Map<number, "on" | "asked">();
  private readonly remote = new Map<number, "on" | "asked">();

  constructor(
    /** Options this side is willing to perform (answers DO with WILL). */
    private readonly localSupported: ReadonlySet<number>,
    /** Options this side wants the peer to perform (answers WILL with DO). */
    private readonly remoteSupported: ReadonlySet<number>,
  ) {}

  isLocalOn(option: number): boolean {
    return this.local.get(option) === "on";
  }

  isRemoteOn(option: number): boolean {
    return this.remote.get(option) === "on";
  }

  /** IAC WILL option, remembered so the peer's DO counts as an answer. */
  offer(option: number): Uint8Array {
    if (!this.local.has(option)) this.local.set(option, "asked");
    return negotiation(WILL, option);
  }

  /** IAC DO option, remembered so the peer's WILL counts as an answer. */
  ask(option: number): Uint8Array {
    if (!this.remote.has(option)) this.remote.set(option, "asked");
    return negotiation(DO, option);
  }

  /** Applies a received WILL/WONT/DO/DONT; returns the reply to send, if any. */
  handle(verb: NegotiationVerb, option: number): Uint8Array | undefined {
    switch (verb) {
      case DO: {
        const st = this.local.get(option);
        if (!this.localSupported.has(option)) return negotiation(WONT, option);
        this.local.set(option, "on");
        return st === undefined ? negotiation(WILL, option) : undefined;
      }
      case DONT: {
        const st = this.local.get(option);
        this.local.delete(option);
        return st === "on" ? negotiation(WONT, option) : undefined;
      }
      case WILL: {
        const st = this.remote.get(option);
        if (!this.remoteSupported.has(option)) return negotiation(DONT, option);
        this.remote.set(option, "on");
        return st === undefined ? negotiation(DO, option) : undefined;
      }
      case WONT: {
        const st = this.remote.get(option);
        this.remote.delete(option);
        return st === "on" ? negotiation(DONT, option) : undefined;
      }
    }
    return undefined;
  }
}
