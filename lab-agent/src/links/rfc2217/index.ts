export * from "./telnet-codec.js";
export * from "./telnet-options.js";
export * from "./rfc2217-link.js";
export * from "./rfc2217-server.js";
