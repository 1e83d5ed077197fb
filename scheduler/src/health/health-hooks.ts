import type { BoardHistory } from "../store/board-history.js";

/**
 * What the API and the run lifecycle ask of the board-health service. The scheduler context holds the
 * service by this interface, so the context and the service (which takes the context) do not import each other.
 */
export interface BoardHealthHooks {
  readonly history: BoardHistory;
  afterInfraFailure(boardIds: readonly string[], quarantined: readonly string[], message: string, runId: string): Promise<void>;
  pendingCheck(id: string): Promise<string | undefined>;
  adminQuarantined(id: string, actor: string, reason: string | undefined, pending?: string): Promise<void>;
  adminReleased(id: string, actor: string, pending?: string): Promise<void>;
}
