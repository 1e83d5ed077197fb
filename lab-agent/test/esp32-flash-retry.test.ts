import { test } from "uvu";
import * as assert from "uvu/assert";
import { Esp32FlashDriver } from "../src/drivers/esp32/esp32-flash-driver.js";
import { buildEsp32Image } from "../src/esp32-image/image-writer.js";
import { MemoryLink } from "../src/links/memory-link.js";
import type { Disposable, ModemLines, SerialDevice } from "../src/links/serial-link.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { same, VIRTUAL_PROFILE } from "./esp32-flash-fixtures.js";

/** Loses the board's first MEM_END answer on the way to the host, as a late reply on a loaded host would look. */
class LossyWire implements SerialDevice {
  dropped = 0;
  constructor(private readonly inner: SerialDevice) {}
  receive(data: Uint8Array): void {
    this.inner.receive(data);
  }
  setSignals(lines: ModemLines): void {
    this.inner.setSignals(lines);
  }
  setBaudRate(baud: number): void {
    this.inner.setBaudRate(baud);
  }
  onTransmit(listener: (d: Uint8Array) => void): Disposable {
    return this.inner.onTransmit((d) => {
      const at = d.findIndex((b, i) => b === 0xc0 && d[i + 1] === 0x01 && d[i + 2] === 0x06);
      if (this.dropped === 0 && at >= 0) {
        this.dropped++;
        return;
      }
      listener(d);
    });
  }
}

test("a lost MEM_END answer (stub start) gets one fresh session; the flash then succeeds", async () => {
  const board = new VirtualEsp32({ id: "retry-0" });
  board.reset("run");
  const wire = new LossyWire(board);
  const link = new MemoryLink(wire);
  const logs: string[] = [];
  try {
    const app = buildEsp32Image({ padTo: 64 * 1024, padSeed: 7 });
    const report = await new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE, logger: (m) => logs.push(m) }).flash([{ data: app, offset: 0x10000 }]);
    assert.is(wire.dropped, 1, "the first MEM_END answer was dropped");
    assert.ok(logs.some((l) => /retrying once/.test(l)), logs.join("\n"));
    assert.is(board.stubStarts, 2, "the stub was started again in the second session");
    assert.is(report.alreadyFlashed, false);
    assert.ok(same(board.flash.subarray(0x10000, 0x10000 + app.length), app));
  } finally {
    await link.close();
    board.dispose();
  }
});

test.run();
