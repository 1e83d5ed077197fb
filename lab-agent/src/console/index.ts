export * from "./ansi.js";
export * from "./console-capture.js";
export * from "./console-yielding-link.js";
export * from "./landmark-detector.js";
