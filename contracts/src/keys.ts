/**
 * The one place that names Redis keys and BullMQ queues. Every key starts with a `{hash tag}` so a
 * Redis Cluster keeps one lab's keys in one slot (Lua scripts touch several of them at once).
 */
export const DEFAULT_NAMESPACE = "hil";

export interface LabKeys {
  /** BullMQ `prefix` option: BullMQ appends `:<queue>:…`. */
  readonly bullPrefix: string;
  agentQueue(agent: string): string;
  /** Stream scheduler → one agent: holder commands (console input, reset, flash); inside the agent's own ACL key space. */
  agentCommands(agent: string): string;
  agent(agent: string): string;
  agents(): string;
  board(id: string): string;
  boards(): string;
  /** Scheduler-only hash: board id → the agent it belongs to, set from verified board-changed events. */
  boardOwners(): string;
  /** Scheduler-only list: the board's health history, newest first, bounded (LPUSH + LTRIM). */
  boardHistory(boardId: string): string;
  lease(boardId: string): string;
  run(id: string): string;
  runs(): string;
  runsBySubmitter(submitter: string): string;
  pending(): string;
  /** Submitters that have at least one run in `pendingBySubmitter` (maintained with it, atomically). */
  pendingSubmitters(): string;
  /** One submitter's pending runs, same members and scores as `pending()`: the dispatcher reads each submitter's head. */
  pendingBySubmitter(submitter: string): string;
  submitterUsage(): string;
  booking(id: string): string;
  bookings(): string;
  boardBookings(boardId: string): string;
  boardLog(boardId: string): string;
  boardLogSeq(boardId: string): string;
  runLog(runId: string): string;
  artifact(sha256: string): string;
  /** Scheduler-only hash: API token id → token record (the token itself is never stored, only its SHA-256). */
  tokens(): string;
  /** Scheduler-only hash: API token id → last time it was used (ms). */
  tokensUsed(): string;
  /** Scheduler-only hash: user name → account record (scrypt password hash). */
  users(): string;
  /** Scheduler-only stream: who did what to which board, run, booking or token (bounded). */
  audit(): string;
  events(): string;
  /** Scheduler-owned stream: agent events that could not be applied (bad JSON, off-contract, handler kept failing), bounded. */
  deadLetters(): string;
  /** Pub/sub channel: a run id published here is cancelled; agents abort it. */
  cancelChannel(): string;
  /** Pub/sub channel: the scheduler publishes a ChangeEvent here when a run, booking or board changes (the dashboard listens). */
  changesChannel(): string;
  counter(name: string): string;
  /** Scheduler-owned: runs that hold or held a claim and are not terminal (the reaper scans it). */
  activeRuns(): string;
  /** Scheduler-owned hash: run id → why it still waits (kept out of the run JSON to save writes). */
  waitingReasons(): string;
  /**
   * Scheduler-owned zset: run id → time of its claim, set by the lease script and removed once the run is
   * marked leased and its job is in the agent's queue; the reaper finishes or undoes claims left here.
   */
  claimIntents(): string;
  /** Scheduler-owned zset: run id → when the reaper next checks it against its queue timeout (set at submit). */
  queueChecks(): string;
  /** Scheduler-owned zset: run id → when its run files (JUnit, logs) are next tried; added with the final state, removed once written. */
  filesPending(): string;
  /** Scheduler-owned hash: run id → the last entry of its log stream copied to the run's archive file (long runs). */
  runLogArchived(): string;
  /** Scheduler-owned hash: board id → the last entry of its log stream copied to the board's archive files, before the stream's cap trims it. */
  boardLogArchived(): string;
  /** Scheduler-owned hash: webhook id → registration (owner, URL, secret) made with `POST /webhooks`. */
  webhooks(): string;
  /** Scheduler-owned zset: webhook delivery id → when it is next tried (a claimed delivery is pushed past its send timeout). */
  webhookDue(): string;
  /** Scheduler-owned string: one webhook delivery (target, body, attempts made), deleted once delivered or given up. */
  webhookDelivery(id: string): string;
}

export function labKeys(namespace: string = DEFAULT_NAMESPACE): LabKeys {
  if (!/^[a-zA-Z0-9_-]+$/.test(namespace)) throw new Error(`namespace "${namespace}" may only hold letters, digits, _ and -`);
  const p = `{${namespace}}`;
  return {
    bullPrefix: p,
    agentQueue: (agent) => `agent-${agent}`,
    agentCommands: (agent) => `${p}:agent-${agent}:commands`,
    agent: (agent) => `${p}:agent:${agent}`,
    agents: () => `${p}:agents`,
    board: (id) => `${p}:board:${id}`,
    boards: () => `${p}:boards`,
    boardOwners: () => `${p}:boards:owners`,
    boardHistory: (boardId) => `${p}:history:board:${boardId}`,
    lease: (boardId) => `${p}:lease:${boardId}`,
    run: (id) => `${p}:run:${id}`,
    runs: () => `${p}:runs`,
    runsBySubmitter: (submitter) => `${p}:runs:by:${submitter}`,
    pending: () => `${p}:pending`,
    pendingSubmitters: () => `${p}:pending:submitters`,
    pendingBySubmitter: (submitter) => `${p}:pending:by:${submitter}`,
    submitterUsage: () => `${p}:usage`,
    booking: (id) => `${p}:booking:${id}`,
    bookings: () => `${p}:bookings`,
    boardBookings: (boardId) => `${p}:bookings:board:${boardId}`,
    boardLog: (boardId) => `${p}:log:board:${boardId}`,
    boardLogSeq: (boardId) => `${p}:log:seq:${boardId}`,
    runLog: (runId) => `${p}:log:run:${runId}`,
    artifact: (sha256) => `${p}:artifact:${sha256}`,
    tokens: () => `${p}:tokens`,
    tokensUsed: () => `${p}:tokens:used`,
    users: () => `${p}:users`,
    audit: () => `${p}:audit`,
    events: () => `${p}:events`,
    deadLetters: () => `${p}:events:dead`,
    cancelChannel: () => `${p}:cancel`,
    changesChannel: () => `${p}:changes`,
    counter: (name) => `${p}:counter:${name}`,
    activeRuns: () => `${p}:runs:active`,
    waitingReasons: () => `${p}:runs:waiting`,
    claimIntents: () => `${p}:runs:claimed`,
    queueChecks: () => `${p}:runs:queue-checks`,
    filesPending: () => `${p}:runs:files-pending`,
    runLogArchived: () => `${p}:runs:log-archived`,
    boardLogArchived: () => `${p}:boards:log-archived`,
    webhooks: () => `${p}:webhooks`,
    webhookDue: () => `${p}:webhooks:due`,
    webhookDelivery: (id) => `${p}:webhooks:delivery:${id}`,
  };
}
