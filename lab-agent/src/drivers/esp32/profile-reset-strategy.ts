import { ClassicReset, type Transport } from "esptool-js";

/**
 * Lets esptool-js's connect loop (which resets before each sync attempt) use our reset instead of
 * its built-in ClassicReset/USB-JTAG sequences: the profile's sequence, or a hook for links
 * without modem lines.
 */
export class ProfileResetStrategy extends ClassicReset {
  constructor(
    transport: Transport,
    private readonly doReset: () => Promise<void>,
  ) {
    super(transport, 0);
  }

  override async reset(): Promise<void> {
    await this.doReset();
  }
}
