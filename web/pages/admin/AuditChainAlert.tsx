/**
 * The Overview's alert when the last verification of the audit chain (the daily one at grade
 * iso27001, or one asked for on the Audit page) found a broken link. Renders nothing otherwise.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api.js";
import { dateTime } from "../../components/format.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import type { AuditStatus } from "../../../src/protocol/audit.protocol.js";

export function AuditChainAlert(p: { navigate: (to: string) => void }) {
  const { t, lang } = useI18n();
  const [status, setStatus] = useState<AuditStatus>();
  useEffect(() => {
    // Best effort: the Overview stays usable whatever this call answers.
    api<AuditStatus>("GET", "/v1/admin/audit/status").then(setStatus, () => undefined);
  }, []);
  const last = status?.verification.last;
  if (!last || last.ok) return null;
  return (
    <div id="audit-chain-alert">
      <Notice kind="error">
        {t("audit.alert", { seq: last.first_broken?.seq ?? "?", reason: last.first_broken?.reason ?? "", at: dateTime(lang, last.at) })}{" "}
        <a
          href="/admin/audit"
          onClick={(e) => {
            if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
            e.preventDefault();
            p.navigate("/admin/audit");
          }}
        >
          {t("audit.alertLink")}
        </a>
      </Notice>
    </div>
  );
}
