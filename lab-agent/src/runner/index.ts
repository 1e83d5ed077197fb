export * from "./board-target.js";
export { stepDisplayName, type StepContext, type StepOutcome, type StepExecutor } from "./step-context.js";
export * from "./run-suite.js";
export * from "./unity/unity-protocol.js";
export * from "./unity/unity-session.js";
export * from "./esp32-target.js";
export * from "./control-socket-reset.js";
export * from "./local-test.js";
