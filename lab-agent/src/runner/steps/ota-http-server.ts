// The agent's OTA server for a suite: serves one image (and a manifest naming it) over plain HTTP on
// the bench network, optionally slowly or with a fault, and records every request so a step can say
// what the device fetched and how much of it went out.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { readEsp32Image } from "../../esp32-image/image-reader.js";
import { corruptImage, unsignedImage, wrongChipImage } from "./ota-faults.js";

export type OtaFault = "none" | "cut" | "corrupt" | "wrong-chip" | "unsigned";

/** A fault the image cannot take (an "unsigned" fault on an image that carries no signature). */
export class OtaFaultError extends Error {
  override name = "OtaFaultError";
}

export interface OtaServeOptions {
  image: Uint8Array;
  /** Bind address: 127.0.0.1 for virtual boards, the bench interface's address for real ones. */
  host: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** Bytes per second; unlimited when absent. */
  throttle?: number;
  fault?: OtaFault;
  /** For "cut": the share of the image sent before the connection is dropped. */
  cutAtPercent?: number;
  /** For "corrupt": which byte to invert (default: inside the last segment). */
  corruptOffset?: number;
}

export interface OtaRequestRecord {
  path: string;
  from: string;
  startedAt: number;
  bytesSent: number;
  total: number;
  /** "done": every byte sent; "cut": dropped on purpose; "closed": the client went away. */
  end?: "done" | "cut" | "closed";
}

const IMAGE_PATH = "/firmware.bin";
const MANIFEST_PATH = "/manifest.json";
const CHUNK = 4096;

export class OtaHttpServer {
  readonly requests: OtaRequestRecord[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** The bytes as served (after the fault). */
    readonly served: Uint8Array,
    readonly version: string | undefined,
    readonly opts: OtaServeOptions,
    readonly faultDetail: string,
  ) {}

  static async start(opts: OtaServeOptions): Promise<OtaHttpServer> {
    const fault = opts.fault ?? "none";
    let served = opts.image;
    let detail = "";
    if (fault === "wrong-chip") {
      served = wrongChipImage(opts.image);
      detail = "chip id set to ESP32-S3 (9)";
    } else if (fault === "corrupt") {
      const c = corruptImage(opts.image, opts.corruptOffset);
      served = c.bytes;
      detail = `byte 0x${c.offset.toString(16)} inverted`;
    } else if (fault === "unsigned") {
      const stripped = unsignedImage(opts.image);
      if (!stripped) throw new OtaFaultError("fault unsigned takes a signed image (hil image sign): this one has no Secure Boot V2 signature sector to take off");
      served = stripped;
      detail = `signature sector taken off (${opts.image.length - stripped.length} bytes)`;
    } else if (fault === "cut") {
      detail = `connection cut after ${opts.cutAtPercent ?? 50} %`;
    }
    const version = readEsp32Image(opts.image).appDesc?.version;
    let self: OtaHttpServer | undefined;
    const server = createServer((req, res) => self?.handle(req, res));
    self = new OtaHttpServer(server, served, version, opts, detail);
    server.on("connection", (s) => {
      self?.sockets.add(s);
      s.on("close", () => self?.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, opts.host, () => resolve());
    });
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private get base(): string {
    const host = this.opts.host.includes(":") ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.port}`;
  }

  get url(): string {
    return `${this.base}${IMAGE_PATH}`;
  }

  get manifestUrl(): string {
    return `${this.base}${MANIFEST_PATH}`;
  }

  get sha256(): string {
    return createHash("sha256").update(this.served).digest("hex");
  }

  /** Resolves with the first image request after `since` (an index into `requests`) once it has ended. */
  async waitForDownload(since: number, signal: AbortSignal): Promise<OtaRequestRecord> {
    for (;;) {
      const hit = this.requests.slice(since).find((r) => r.path === IMAGE_PATH && r.end !== undefined);
      if (hit) return hit;
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiters.delete(wake);
          reject(signal.reason);
        };
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        this.waiters.add(wake);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const record: OtaRequestRecord = { path, from: req.socket.remoteAddress ?? "", startedAt: Date.now(), bytesSent: 0, total: 0 };
    this.requests.push(record);
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      record.end = "done";
      return;
    }
    if (path === MANIFEST_PATH) {
      const body = JSON.stringify({ version: this.version ?? null, url: IMAGE_PATH, size: this.served.length, sha256: this.sha256 });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
      record.total = record.bytesSent = Buffer.byteLength(body);
      record.end = "done";
      this.notify();
      return;
    }
    if (path !== IMAGE_PATH) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`no ${path} here; the image is at ${IMAGE_PATH}\n`);
      record.end = "done";
      return;
    }
    this.sendImage(res, record);
  }

  private sendImage(res: ServerResponse, record: OtaRequestRecord): void {
    const data = this.served;
    record.total = data.length;
    const cutAt = this.opts.fault === "cut" ? Math.floor((data.length * Math.min(100, Math.max(0, this.opts.cutAtPercent ?? 50))) / 100) : data.length;
    const rate = this.opts.throttle;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
    const end = (how: NonNullable<OtaRequestRecord["end"]>) => {
      if (record.end !== undefined) return;
      record.end = how;
      this.notify();
    };
    res.on("close", () => end(record.bytesSent >= data.length ? "done" : "closed"));
    const step = () => {
      if (record.end !== undefined || res.destroyed) return;
      if (record.bytesSent >= cutAt && cutAt < data.length) {
        // A dropped link: the socket closes with the body short of its Content-Length.
        end("cut");
        res.socket?.destroy();
        return;
      }
      if (record.bytesSent >= data.length) {
        res.end(() => end("done"));
        return;
      }
      const size = Math.min(CHUNK, cutAt - record.bytesSent, data.length - record.bytesSent);
      const chunk = data.subarray(record.bytesSent, record.bytesSent + size);
      record.bytesSent += size;
      if (cutAt < data.length && record.bytesSent >= cutAt) {
        // Cut once this last chunk has left for the client, so exactly bytesSent bytes arrive.
        res.write(chunk, () => {
          end("cut");
          res.socket?.destroy();
        });
        return;
      }
      const wait = rate ? Math.ceil((size / rate) * 1000) : 0;
      const next = () => (wait > 0 ? setTimeout(step, wait) : setImmediate(step));
      if (res.write(chunk)) next();
      else res.once("drain", next);
    };
    step();
  }
}
