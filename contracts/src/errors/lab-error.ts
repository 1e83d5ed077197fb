/**
 * Every failure that crosses a layer is a LabError with a stable `code`. Code that runs in another
 * process branches on `code` (it survives JSON), never on `instanceof`.
 * `infra` says whether the failure belongs to the lab (retry elsewhere) rather than to the test.
 */
export const ERROR_CODES = {
  LINK_CLOSED: { infra: true, retryable: true },
  LINK_OPEN_FAILED: { infra: true, retryable: true },
  SYNC_FAILED: { infra: true, retryable: true },
  FLASH_FAILED: { infra: true, retryable: true },
  IDENTITY_MISMATCH: { infra: true, retryable: true },
  BOARD_BUSY: { infra: true, retryable: true },
  BOARD_VANISHED: { infra: true, retryable: true },
  AGENT_LOST: { infra: true, retryable: true },
  LEASE_LOST: { infra: true, retryable: true },
  /** The agent cannot read the job the scheduler gave it (an agent older or newer than the scheduler). */
  JOB_UNREADABLE: { infra: true, retryable: true },
  IMAGE_INVALID: { infra: false, retryable: false },
  PROFILE_INVALID: { infra: false, retryable: false },
  SUITE_INVALID: { infra: false, retryable: false },
  ARTIFACT_MISSING: { infra: false, retryable: false },
  STEP_TIMEOUT: { infra: false, retryable: false },
  /** The run's whole timeout ran out (the scheduler owns that deadline; an agent that hits it first reports this). */
  RUN_TIMEOUT: { infra: false, retryable: false },
  /** The run waited in the queue longer than its queue timeout and never started. */
  QUEUE_TIMEOUT: { infra: false, retryable: false },
  TEST_FAILED: { infra: false, retryable: false },
  CANCELLED: { infra: false, retryable: false },
  USAGE: { infra: false, retryable: false },
  /** The suite asks a board for a step it cannot do (e.g. android.* on an ESP32). */
  STEP_UNSUPPORTED: { infra: false, retryable: false },
  PROTOCOL: { infra: true, retryable: true },
  INTERNAL: { infra: true, retryable: false },
} as const satisfies Record<string, { infra: boolean; retryable: boolean }>;

export type LabErrorCode = keyof typeof ERROR_CODES;

export interface LabErrorJson {
  name: string;
  code: LabErrorCode;
  message: string;
  infra: boolean;
  retryable: boolean;
}

export class LabError extends Error {
  override name = "LabError";
  readonly code: LabErrorCode;
  readonly retryable: boolean;
  readonly infra: boolean;

  constructor(code: LabErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.infra = ERROR_CODES[code].infra;
    this.retryable = options?.retryable ?? ERROR_CODES[code].retryable;
  }

  toJSON(): LabErrorJson {
    return { name: this.name, code: this.code, message: this.message, infra: this.infra, retryable: this.retryable };
  }
}

/** Turns anything thrown into a LabError, keeping codes from serialised errors of other processes. */
export function toLabError(err: unknown, fallback: LabErrorCode = "INTERNAL"): LabError {
  if (err instanceof LabError) return err;
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" && err.code in ERROR_CODES) {
    const message = "message" in err && typeof err.message === "string" ? err.message : String(err.code);
    return new LabError(err.code as LabErrorCode, message, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new LabError(fallback, message, { cause: err });
}

export function isInfraError(err: unknown): boolean {
  return toLabError(err).infra;
}
