/** What every wizard step component receives. */
import type { Draft, ServerState } from "./wizard-state.js";

export interface StepProps {
  draft: Draft;
  update: (fn: (d: Draft) => void) => void;
  /** Translated error text by field path (`company_name`, `sites.0.pools`). */
  errors: Record<string, string>;
  server: ServerState;
}
