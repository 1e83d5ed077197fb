export { createGateway, CHANGES_ROOM, type Gateway, type GatewayOptions, type GatewayServer } from "./gateway.js";
export { startStandaloneGateway, type StandaloneGateway } from "./standalone.js";
export * from "./events.js";
export { webAssets, webDir } from "./web-assets.js";
