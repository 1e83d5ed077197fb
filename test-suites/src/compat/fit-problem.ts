/** One reason a suite cannot run on a profile (profile-fit.ts, ota-trigger-fit.ts). */
export interface FitProblem {
  /** Path inside the suite, e.g. ["steps", 3]. */
  path: (string | number)[];
  message: string;
}
