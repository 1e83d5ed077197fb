/** Exit codes every `hil` command keeps to (CI scripts branch on them). */
export const EXIT = {
  OK: 0,
  TEST_FAILED: 1,
  INFRA: 2,
  TIMED_OUT_OR_CANCELLED: 3,
  USAGE: 64,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
