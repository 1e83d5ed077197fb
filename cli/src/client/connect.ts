import { readFileSync } from "node:fs";
import { loadClientConfig } from "./client-config.js";
import { HilClient } from "./hil-client.js";
import { UsageError } from "@hil/contracts";

// A token on the command line shows in `ps` and shell history: commands take a file instead.
export const TOKEN_FILE_FLAG = "--token-file <path>";
export const TOKEN_FILE_HELP = "file holding the API token (default: $HIL_TOKEN, then .hil/lab.env)";

/** The client every lab command uses: flags, then HIL_URL/HIL_TOKEN(_FILE), then `.hil/lab.env`. */
export function connect(opts: { url?: string; tokenFile?: string }): HilClient {
  const file = opts.tokenFile ?? (process.env.HIL_TOKEN ? undefined : process.env.HIL_TOKEN_FILE);
  let token: string | undefined;
  if (file !== undefined) {
    try {
      token = readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new UsageError(`cannot read the token file ${file}: ${(err as Error).message}`);
    }
    if (!token) throw new UsageError(`the token file ${file} is empty`);
  }
  const cfg = loadClientConfig(process.env, process.cwd(), { url: opts.url, token });
  if ("missing" in cfg) throw new UsageError(cfg.missing);
  return new HilClient(cfg);
}
