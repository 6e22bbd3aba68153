/**
 * The catalogue's vocabulary as the Models page shows it: roles, hardware classes (the web may only
 * import types from src: the compiler checks these lists against the protocol's enums, both ways)
 * and the text of each error the catalogue API answers.
 */
import { ApiError, errorText } from "../../../api.js";
import type { Translate } from "../../../i18n/index.js";
import type { ModelRole } from "../../../../src/protocol/models.protocol.js";
import type { HardwareClass } from "../../../../src/protocol/worker.protocol.js";

export const ROLES = ["fast", "reasoning", "code", "embedding"] as const satisfies readonly ModelRole[];
export const HARDWARE_CLASSES = ["cpu-low", "cpu-mid", "gpu-small", "gpu-large", "apple-m"] as const satisfies readonly HardwareClass[];
/** Fail to compile when the protocol gains a role or a class these lists do not offer. */
const everyRole: Exclude<ModelRole, (typeof ROLES)[number]> extends never ? true : never = true;
const everyClass: Exclude<HardwareClass, (typeof HARDWARE_CLASSES)[number]> extends never ? true : never = true;
void everyRole;
void everyClass;

/** Who uploaded a model: an admin's email (actor `admin:<email>`), or the actor as audited (`key:<id>`). */
export const uploader = (actor: string): string => (actor.startsWith("admin:") ? actor.slice("admin:".length) : actor);

/** What to show for a failed catalogue call: the code explained, with the pool's own detail. */
export function catalogueErrorText(t: Translate, err: unknown): string {
  if (!(err instanceof ApiError)) return t("ui.error", { message: errorText(err, t("common.network")) });
  const message = err.message;
  switch (err.code) {
    case "invalid_model_file":
      return t("catalogue.err.invalidFile", { message });
    case "model_name_taken":
      return t("catalogue.err.nameTaken", { message });
    case "file_too_large":
      return t("catalogue.err.tooLarge", { message });
    case "insufficient_storage":
      return t("catalogue.err.storage", { message });
    case "catalogue_read_only":
      return t("catalogue.err.readOnly", { message });
    case "model_in_use":
      return t("catalogue.err.inUse", { message });
    case "upload_not_found":
      return t("catalogue.err.uploadGone");
    case "network":
    case "aborted":
      return t("catalogue.err.network");
    default:
      return t("ui.error", { message });
  }
}
