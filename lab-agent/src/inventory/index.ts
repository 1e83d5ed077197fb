export * from "./inventory.js";
export * from "./android-boards.js";
