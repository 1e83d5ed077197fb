import { fork, type ChildProcess } from "node:child_process";
import { stopChild } from "@hil/scheduler/redis";

/** A bench helper process run from TypeScript sources with an IPC channel, waited on by message type. */
export interface Forked<Req, Rep extends { type: string }> {
  readonly pid: number;
  readonly child: ChildProcess;
  send(msg: Req): void;
  /** The next message of this type (or one that already arrived unclaimed), rejecting on exit or timeout. */
  next<T extends Rep["type"]>(type: T, timeoutMs?: number): Promise<Extract<Rep, { type: T }>>;
  /** Every message of this type from now on. */
  on<T extends Rep["type"]>(type: T, listener: (msg: Extract<Rep, { type: T }>) => void): () => void;
  stop(): Promise<void>;
}

export function forkScript<Req, Rep extends { type: string }>(file: string, argv: string[], name: string): Forked<Req, Rep> {
  const child = fork(file, argv, { execArgv: ["--conditions=source", "--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const unclaimed: Rep[] = [];
  const waiters = new Set<(msg: Rep) => boolean>();
  const listeners = new Set<(msg: Rep) => void>();
  child.on("message", (raw) => {
    const msg = raw as Rep;
    for (const l of listeners) l(msg);
    for (const w of waiters) if (w(msg)) return;
    unclaimed.push(msg);
  });
  return {
    pid: child.pid ?? -1,
    child,
    send(msg) {
      if (child.connected) child.send(msg as object);
    },
    next(type, timeoutMs = 60_000) {
      type Msg = Extract<Rep, { type: typeof type }>;
      const i = unclaimed.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(unclaimed.splice(i, 1)[0] as Msg);
      return new Promise<Msg>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        const waiter = (msg: Rep) => {
          if (msg.type !== type) return false;
          done();
          resolve(msg as Msg);
          return true;
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no "${type}" within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((code) => {
          if (!waiters.has(waiter)) return;
          done();
          reject(new Error(`${name} exited (code ${code}) before "${type}"`));
        });
      });
    },
    on(type, listener) {
      const l = (msg: Rep) => {
        if (msg.type === type) listener(msg as Extract<Rep, { type: typeof type }>);
      };
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async stop() {
      if (child.connected) child.disconnect();
      await stopChild(child, exited);
    },
  };
}
