import { existsSync } from "node:fs";
import type { Disposable } from "../links/serial-link.js";

export interface UsbChange {
  type: "attach" | "detach";
  vendorId: string;
  productId: string;
  busNumber: number;
  portNumbers: number[];
}

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

/**
 * Follows USB attach/detach with the `usb` package (v2 API). Containers and CI machines often have
 * no /sys/bus/usb, where libusb's hotplug would fail: then this is a no-op and says why.
 */
export async function watchUsb(onChange: (c: UsbChange) => void, log: (msg: string) => void = () => undefined, sysBusUsb = "/sys/bus/usb"): Promise<Disposable> {
  if (!existsSync(sysBusUsb)) {
    log(`no ${sysBusUsb} on this machine: USB attach/detach is not followed; rescan to pick up new boards`);
    return { dispose: () => undefined };
  }
  let usb: typeof import("usb").usb;
  try {
    ({ usb } = await import("usb"));
  } catch (err) {
    log(`the usb module did not load (${(err as Error).message}): USB attach/detach is not followed`);
    return { dispose: () => undefined };
  }
  const forward =
    (type: UsbChange["type"]) =>
    (device: import("usb").Device): void => {
      const d = device.deviceDescriptor;
      onChange({ type, vendorId: hex4(d.idVendor), productId: hex4(d.idProduct), busNumber: device.busNumber, portNumbers: [...(device.portNumbers ?? [])] });
    };
  const onAttach = forward("attach");
  const onDetach = forward("detach");
  try {
    usb.on("attach", onAttach);
    usb.on("detach", onDetach);
    // Listening must not keep the agent alive on its own.
    usb.unrefHotplugEvents();
  } catch (err) {
    log(`USB hotplug is not available (${(err as Error).message}): attach/detach is not followed`);
    return { dispose: () => undefined };
  }
  return {
    dispose: () => {
      usb.off("attach", onAttach);
      usb.off("detach", onDetach);
    },
  };
}
