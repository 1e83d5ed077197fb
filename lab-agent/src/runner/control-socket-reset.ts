import { createConnection } from "node:net";
import { LabError } from "@hil/contracts";
import type { BoardResetControl } from "./esp32-target.js";

/**
 * Resets a virtual board behind a PTY through its control socket (`<pty>.ctl`, one command per
 * line, answered `ok …` / `error …`): a PTY has no DTR/RTS to do it with.
 */
export class ControlSocketReset implements BoardResetControl {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 5000,
  ) {}

  async reset(mode: "run" | "download"): Promise<void> {
    const answer = await this.command(`reset ${mode}`);
    if (!answer.startsWith("ok")) throw new LabError("LINK_CLOSED", `the board's control socket ${this.socketPath} refused "reset ${mode}": ${answer}`);
  }

  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.socketPath);
      let buf = "";
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new LabError("LINK_CLOSED", `no answer from control socket ${this.socketPath} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      sock.on("connect", () => sock.write(`${line}\n`));
      sock.on("data", (d: Buffer) => {
        buf += d.toString("utf8");
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        clearTimeout(timer);
        sock.end();
        resolve(buf.slice(0, nl).trim());
      });
      sock.on("error", (err) => {
        clearTimeout(timer);
        reject(new LabError("LINK_OPEN_FAILED", `cannot reach the board's control socket ${this.socketPath}: ${err.message}`, { cause: err }));
      });
    });
  }
}
