// What the holder of a board's booking may do from its page: type into the console, reset, flash.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, request } from "../api.js";
import { useApp } from "../app-context.js";

const CTRL_C = "\x03";
const CTRL_BRACKET = "\x1d";

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Keystrokes typed within a short window leave in one request, in order. */
export function useKeySender(boardId: string): (data: string) => void {
  const { notify } = useApp();
  const queue = useRef("");
  const sending = useRef<Promise<void>>(Promise.resolve());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return (data: string) => {
    queue.current += data;
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      const chunk = queue.current;
      queue.current = "";
      sending.current = sending.current.then(() =>
        api("POST", `/api/v1/boards/${encodeURIComponent(boardId)}/console`, { bytes: base64(chunk) }).then(
          () => undefined,
          (err: unknown) => notify(`console: ${err instanceof Error ? err.message : String(err)}`, "error"),
        ),
      );
    }, 25);
  };
}

export interface FlashProgress {
  percent: number;
  text: string;
  done?: "ok" | "failed";
}

export function HolderControls({
  boardId,
  typing,
  setTyping,
  sendKeys,
  flash,
}: {
  boardId: string;
  typing: boolean;
  setTyping: (on: boolean) => void;
  sendKeys: (data: string) => void;
  flash: FlashProgress | undefined;
}) {
  const { notify } = useApp();
  const [line, setLine] = useState("");
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const base = `/api/v1/boards/${encodeURIComponent(boardId)}`;

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(what);
    try {
      await fn();
    } catch (err) {
      notify(`${what}: ${err instanceof Error ? err.message : String(err)}`, "error");
    } finally {
      setBusy(undefined);
    }
  };

  const sendLine = (e: Event) => {
    e.preventDefault();
    const text = line;
    void act("console", async () => {
      await api("POST", `${base}/console`, { text, newline: true });
      setLine("");
    });
  };

  const doFlash = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const file = (form.elements.namedItem("image") as HTMLInputElement).files?.[0];
    const offsetText = (form.elements.namedItem("offset") as HTMLInputElement).value.trim() || "0x10000";
    const offset = Number(offsetText);
    if (!file) return notify("choose an image file to flash", "error");
    if (!Number.isInteger(offset) || offset < 0 || offset % 0x1000 !== 0) return notify(`offset ${offsetText} must be a multiple of 0x1000 (4 KiB)`, "error");
    void act("flash", async () => {
      const up = await (await request("POST", "/api/v1/artifacts", file, { headers: { "content-type": "application/octet-stream" } })).json() as { sha256: string };
      await api("POST", `${base}/flash`, { artifact: up.sha256, offset });
      notify(`flashing ${file.name} (${file.size} bytes) at 0x${offset.toString(16)}`);
    });
  };

  return (
    <section class="holder" aria-label="Your controls for this board">
      <form class="console-line" onSubmit={sendLine}>
        <label for="console-input">Console</label>
        <input
          id="console-input"
          value={line}
          autocomplete="off"
          spellcheck={false}
          placeholder="a command, sent with Enter"
          onInput={(e) => setLine((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy === "console"}>
          Send
        </button>
        <button type="button" onClick={() => sendKeys(CTRL_C)} title="Send Ctrl-C">
          Ctrl-C
        </button>
        <button type="button" onClick={() => sendKeys(CTRL_BRACKET)} title="Send Ctrl-]">
          Ctrl-]
        </button>
        <label class="check">
          <input type="checkbox" checked={typing} onChange={(e) => setTyping((e.currentTarget as HTMLInputElement).checked)} /> Type in the
          serial view (raw keys)
        </label>
      </form>
      <div class="row">
        <button type="button" disabled={busy !== undefined} onClick={() => act("reset", () => api("POST", `${base}/reset`, { mode: "run" }))}>
          Reset
        </button>
        <button type="button" disabled={busy !== undefined} onClick={() => act("reset", () => api("POST", `${base}/reset`, { mode: "download" }))}>
          Reset into download mode
        </button>
        <form class="flash" onSubmit={doFlash}>
          <label>
            Image <input name="image" type="file" accept=".bin,application/octet-stream" required />
          </label>
          <label>
            at <input name="offset" size={8} defaultValue="0x10000" aria-label="Flash offset" />
          </label>
          <button type="submit" disabled={busy !== undefined}>
            Flash
          </button>
        </form>
      </div>
      {flash && (
        <div class="flash-progress" data-testid="flash-progress">
          <progress max={100} value={flash.percent} aria-label="Flash progress" />
          <span class={flash.done === "failed" ? "error" : undefined}>{flash.text}</span>
        </div>
      )}
    </section>
  );
}
