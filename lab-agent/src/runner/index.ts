export * from "./board-target.js";
export * from "./step-context.js";
export * from "./run-suite.js";
export * from "./unity/unity-protocol.js";
export * from "./unity/unity-session.js";
