// The shared test helpers live in @hil/lab-protocol (the agent's tests use them too, and the agent must
// not depend on the scheduler); re-exported for the scheduler's and the CLI's tests.
export * from "@hil/lab-protocol/testing";
