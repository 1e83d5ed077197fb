export * from "./inventory.js";
