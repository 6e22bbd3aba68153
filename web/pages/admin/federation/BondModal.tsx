/** "Bond with a pool": paste the other pool's attachment token → POST /v1/federation/admin/register. */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { CheckboxField } from "../../../components/Field.js";
import { Modal } from "../../../components/Modal.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { PeerSummary, RegisteredPeer } from "../../../../src/protocol/federation.protocol.js";

export function BondModal(p: { open: boolean; onClose: () => void; onBonded: (peer: PeerSummary) => void }) {
  const { t } = useI18n();
  const [token, setToken] = useState("");
  const [reciprocate, setReciprocate] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!p.open) return;
    setToken("");
    setReciprocate(true);
    setError(undefined);
  }, [p.open]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!token.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<RegisteredPeer>("POST", "/v1/federation/admin/register", { token: token.trim(), reciprocate });
      p.onBonded(r.peer);
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal id="bond-pool" open={p.open} title={t("federation.bond.title")} onClose={p.onClose}>
      <form id="bond-form" onSubmit={(e) => void submit(e)} noValidate>
        <p class="lead">{t("federation.bond.intro")}</p>
        {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
        <div class="field">
          <label for="bond-token">{t("federation.bond.token")}</label>
          <textarea id="bond-token" rows={4} spellcheck={false} autoComplete="off" value={token} onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)} required />
        </div>
        <CheckboxField id="bond-reciprocate" label={t("federation.bond.reciprocate")} help={t("federation.bond.reciprocateHelp")} checked={reciprocate} onChange={setReciprocate} />
        <div class="actions">
          <button type="button" class="button secondary" onClick={p.onClose}>
            {t("ui.cancel")}
          </button>
          <button type="submit" class="button primary" id="bond-submit" disabled={busy || !token.trim()}>
            {busy ? t("federation.bond.busy") : t("federation.bond.submit")}
          </button>
        </div>
      </form>
    </Modal>
  );
}
