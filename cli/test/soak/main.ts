// `npm run soak -- --minutes N [--freeze 30s] [--faults a,b] [--dump DIR]`: the fault soak, with its table.
import { parseArgs } from "node:util";
import { formatReport, soakPassed } from "./report.js";
import { FAULT_KINDS, runSoak, type FaultKind } from "./soak.js";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "5" }, freeze: { type: "string", default: "30" }, faults: { type: "string" }, dump: { type: "string" } } });
const minutes = Number(values.minutes);
const freezeSec = Number(String(values.freeze).replace(/s$/, ""));
const faults = values.faults?.split(",").map((f) => f.trim()) ?? [...FAULT_KINDS];
const unknown = faults.filter((f) => !(FAULT_KINDS as readonly string[]).includes(f));
if (!(minutes > 0) || !(freezeSec > 0) || unknown.length > 0) {
  console.error(`usage: npm run soak -- --minutes N [--freeze SECONDS] [--faults ${FAULT_KINDS.join(",")}] [--dump DIR]${unknown.length ? `\nunknown fault: ${unknown.join(", ")}` : ""}`);
  process.exit(64);
}
const started = Date.now();
const report = await runSoak({ minutes, freezeMs: freezeSec * 1000, faults: faults as FaultKind[], say: (l) => console.log(`${new Date().toISOString().slice(11, 19)} ${l}`), dumpDir: values.dump });
console.log(`\nsoak: ${Math.round((Date.now() - started) / 1000)} s in all\n${formatReport(report)}`);
if (!soakPassed(report)) {
  console.log(JSON.stringify({ lost: report.lost, executedTwice: report.executedTwice, wrongOutcome: report.wrongOutcome, leasedBoards: report.leasedBoards, missingByRun: report.missingByRun }, null, 2));
  process.exit(1);
}
