export * from "./write-results.js";
