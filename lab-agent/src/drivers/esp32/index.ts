export * from "./web-serial-port-adapter.js";
