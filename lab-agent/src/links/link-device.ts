import type { Disposable, ModemLines, SerialDevice, SerialLink } from "./serial-link.js";

/**
 * A host-side link seen from the other end, as the device an RFC 2217 server exposes: what a remote
 * client sends goes out on the link, what the board prints comes back. Lets the agent serve a board it
 * already has open (a USB port, or a virtual board's own RFC 2217 port) to a remote client while its
 * console capture keeps reading the same link. Writes, signal and baud changes keep their order.
 */
export function linkAsDevice(link: Pick<SerialLink, "write" | "setSignals" | "setBaudRate" | "onData">, onError: (err: Error) => void = () => {}): SerialDevice {
  let chain: Promise<unknown> = Promise.resolve();
  const then = (op: () => Promise<unknown>) => {
    chain = chain.then(op).catch((err: Error) => onError(err));
  };
  return {
    receive(data: Uint8Array): void {
      const copy = data.slice();
      then(() => link.write(copy));
    },
    setSignals(lines: ModemLines): void {
      then(() => link.setSignals(lines));
    },
    setBaudRate(baud: number): void {
      then(() => link.setBaudRate(baud));
    },
    onTransmit(listener: (data: Uint8Array) => void): Disposable {
      return link.onData(listener);
    },
  };
}
