// Entry used by tests (through tsx, on the sources) and by bin/hil.js (compiled).
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
