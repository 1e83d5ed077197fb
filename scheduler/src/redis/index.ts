// The private redis-server, free ports and /healthz's Redis check live in @hil/lab-protocol (the agent's
// tests use them too, and the agent must not depend on the scheduler); re-exported for the scheduler,
// the CLI and their tests.
export * from "@hil/lab-protocol/redis";
