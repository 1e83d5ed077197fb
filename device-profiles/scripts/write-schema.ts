// `npm run schema -w device-profiles`: regenerates schema/device-profile.schema.json from the zod schema.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deviceProfileJsonSchema, packageDirOf } from "../src/index.js";

const out = join(packageDirOf(import.meta.url), "schema", "device-profile.schema.json");
await writeFile(out, deviceProfileJsonSchema());
process.stdout.write(`wrote ${out}\n`);
