export { LuaScript } from "./lua-script.js";
export { LeaseSchema, leaseTokenHash, parseLease, type Lease } from "./leases/lease.js";
export { LeaseStore } from "./leases/lease-store.js";
export { EVENT_KEY_CONTEXT, deriveEventKey, signEvent, verifyEventSignature } from "./events/event-signature.js";
export { EventWriter, EVENTS_MAXLEN, readEventFields, signedEventFields, type SignedEvent } from "./events/event-writer.js";
export { startJob, type StartJobRequest } from "./agent/start-job.js";
export { claimBoards } from "./agent/claim-boards.js";
