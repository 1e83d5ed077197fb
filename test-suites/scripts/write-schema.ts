// `npm run schema -w test-suites`: regenerates schema/test-suite.schema.json from the Suite zod schema.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { packageDirOf } from "@hil/device-profiles";
import { testSuiteJsonSchema } from "../src/index.js";

const out = join(packageDirOf(import.meta.url), "schema", "test-suite.schema.json");
await writeFile(out, testSuiteJsonSchema());
process.stdout.write(`wrote ${out}\n`);
