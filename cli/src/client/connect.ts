import { UsageError } from "../main.js";
import { loadClientConfig } from "./client-config.js";
import { HilClient } from "./hil-client.js";

/** The client every lab command uses: flags, then HIL_URL/HIL_TOKEN, then `.hil/lab.env`. */
export function connect(opts: { url?: string; token?: string }): HilClient {
  const cfg = loadClientConfig(process.env, process.cwd(), opts);
  if ("missing" in cfg) throw new UsageError(cfg.missing);
  return new HilClient(cfg);
}
