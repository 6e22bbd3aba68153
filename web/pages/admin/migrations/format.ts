/** How the migration views name pools and colour order states. */
import type { Translate } from "../../../i18n/index.js";
import type { MigrationOrderState } from "../../../../src/protocol/migration.protocol.js";
import { hostOf, shortId } from "../federation/format.js";

/** "this pool", the host of its public URL, or the start of its atom id. */
export function poolLabel(t: Translate, atomId: string, url: string | null | undefined, self: boolean): string {
  if (self) return t("migrations.thisPool");
  return url ? hostOf(url) : shortId(atomId);
}

/** Badge class per order state (web/styles.css): waiting on an admin, moving, done, failed, refused. */
export const STATE_BADGE: Record<MigrationOrderState, string> = { proposed: "warn", issued: "", draining: "", completed: "ok", rolled_back: "err", rejected: "muted" };
