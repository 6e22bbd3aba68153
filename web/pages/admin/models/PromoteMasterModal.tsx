/**
 * "Promote to master" on a satellite (admin guide §4.6.3): what it means before it is done. Never
 * automatic: the admin reads the consequences, ticks that the master is lost or retired, then
 * confirms; the pool signs the promotion and audits it (POST /v1/admin/models/promote-master).
 */
import { useState } from "preact/hooks";
import { api } from "../../../api.js";
import { Modal } from "../../../components/Modal.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { CatalogueMaster } from "../../../../src/protocol/models.protocol.js";
import { catalogueErrorText } from "./catalogue-terms.js";

export function PromoteMasterModal(p: { open: boolean; masterUrl: string | null; onClose: () => void; onPromoted: (m: CatalogueMaster) => void }) {
  const { t } = useI18n();
  const [understood, setUnderstood] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const close = () => {
    setUnderstood(false);
    setError(undefined);
    p.onClose();
  };
  const promote = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const m = await api<CatalogueMaster>("POST", "/v1/admin/models/promote-master", { confirm: true });
      setUnderstood(false);
      p.onPromoted(m);
    } catch (err) {
      setError(catalogueErrorText(t, err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      id="promote-master"
      open={p.open}
      title={t("catalogue.promote.title")}
      onClose={close}
      footer={
        <>
          <button type="button" class="button secondary" id="promote-cancel" onClick={close}>
            {t("ui.cancel")}
          </button>
          <button type="button" class="button danger" id="promote-confirm" disabled={busy || !understood} onClick={() => void promote()}>
            {busy ? t("catalogue.promote.busy") : t("catalogue.promote.confirm")}
          </button>
        </>
      }
    >
      <p>{t("catalogue.promote.body", { url: p.masterUrl ?? t("catalogue.masterUnknown") })}</p>
      <ul>
        <li>{t("catalogue.promote.effectWrites")}</li>
        <li>{t("catalogue.promote.effectOthers")}</li>
        <li>{t("catalogue.promote.effectOldMaster")}</li>
        <li>{t("catalogue.promote.effectAudit")}</li>
      </ul>
      <div class="field checkbox">
        <input type="checkbox" id="promote-understood" checked={understood} onChange={(e) => setUnderstood(e.currentTarget.checked)} />
        <label for="promote-understood">{t("catalogue.promote.understood")}</label>
      </div>
      {error && <Notice kind="error">{error}</Notice>}
    </Modal>
  );
}
