import { LabError } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MemoryLink } from "../../links/memory-link.js";
import type { Disposable, ModemLines, SerialDevice, SerialLink } from "../../links/serial-link.js";
import { LinkGuard } from "./link-guard.js";
import { ResetSequencer } from "./reset-sequencer.js";

class LineRecorder implements SerialDevice {
  lines: ModemLines[] = [];
  receive(): void {}
  setSignals(lines: ModemLines): void {
    this.lines.push(lines);
  }
  setBaudRate(): void {}
  onTransmit(): Disposable {
    return { dispose: () => undefined };
  }
}

test("plays the profile's sequence on DTR/RTS in order", async () => {
  const dev = new LineRecorder();
  const link = new MemoryLink(dev);
  await link.open();
  const seq = new ResetSequencer(link, { download: "D0|R1|W10|D1|R0|W5|D0", run: "D0|R1|W10|R0" });
  assert.ok(await seq.run("download"));
  assert.equal(dev.lines, [{ dtr: false }, { rts: true }, { dtr: true }, { rts: false }, { dtr: false }]);
  dev.lines = [];
  assert.ok(await seq.run("run"));
  assert.equal(dev.lines, [{ dtr: false }, { rts: true }, { rts: false }]);
});

test("a link without modem lines uses the hook, or reports that it could not reset", async () => {
  const noLines = { hasModemLines: false, path: "pty" } as unknown as SerialLink;
  const calls: string[] = [];
  const withHook = new ResetSequencer(noLines, { download: "D0", run: "R0" }, { enterDownloadMode: async () => void calls.push("dl") });
  assert.ok(await withHook.run("download"));
  assert.equal(calls, ["dl"]);
  const logs: string[] = [];
  const withoutRunHook = new ResetSequencer(noLines, { download: "D0", run: "R0" }, {}, (m) => logs.push(m));
  assert.is(await withoutRunHook.run("run"), false);
  assert.match(logs[0] ?? "", /no DTR\/RTS/);
});

test("a bad sequence in the profile is PROFILE_INVALID", () => {
  const link = new MemoryLink(new LineRecorder());
  try {
    new ResetSequencer(link, { download: "D0|X9", run: "R0" });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, LabError);
    assert.is((err as LabError).code, "PROFILE_INVALID");
  }
});

test("LinkGuard: abort rejects what is in flight with CANCELLED; a severed link wins with LINK_CLOSED", async () => {
  const link = new MemoryLink(new LineRecorder());
  await link.open();
  const ac = new AbortController();
  const guard = new LinkGuard(link, "flash", ac.signal);
  const never = new Promise<void>(() => undefined);
  const pending = guard.race(never);
  ac.abort();
  try {
    await pending;
    assert.unreachable();
  } catch (err) {
    assert.is((err as LabError).code, "CANCELLED");
  }
  guard.dispose();
  const guard2 = new LinkGuard(link, "flash");
  const p2 = guard2.race(never);
  link.sever();
  try {
    await p2;
    assert.unreachable();
  } catch (err) {
    assert.is((err as LabError).code, "LINK_CLOSED");
    assert.match((err as Error).message, /link closed during flash/);
  }
  guard2.dispose();
});

test.run();
