/** A desktop's state as a badge: dormant (computing) is good news, the others say why it is not computing. */
import { useI18n } from "../../../i18n/index.js";
import type { DesktopState } from "../../../../src/protocol/worker.protocol.js";

export function DesktopStateBadge(p: { state: DesktopState | null | undefined }) {
  const { t } = useI18n();
  const s = p.state ?? null;
  return (
    <span class={`badge ${s === "dormant" ? "ok" : "muted"}`} data-desktop-state={s ?? "unknown"}>
      {t(s ? `desktops.state.${s}` : "desktops.state.unknown")}
    </span>
  );
}
