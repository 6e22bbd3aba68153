/** "Create attachment token": POST /v1/federation/admin/attach-tokens, then the token once in a CopyBlock with its expiry. */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { CopyBlock } from "../../../components/CopyBlock.js";
import { dateTime } from "../../../components/format.js";
import { Modal } from "../../../components/Modal.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { CreatedAttachToken } from "../../../../src/protocol/federation.protocol.js";

export function TokenModal(p: { open: boolean; onClose: () => void }) {
  const { t, lang } = useI18n();
  const [result, setResult] = useState<CreatedAttachToken>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!p.open) return;
    setResult(undefined);
    setError(undefined);
    api<CreatedAttachToken>("POST", "/v1/federation/admin/attach-tokens", {}).then(setResult, (e: unknown) =>
      setError(errorText(e, t("common.network"))),
    );
  }, [p.open]);

  return (
    <Modal
      id="attach-token"
      open={p.open}
      title={t("federation.token.title")}
      onClose={p.onClose}
      footer={
        <button type="button" class="button primary" id="attach-token-done" onClick={p.onClose}>
          {t("ui.close")}
        </button>
      }
    >
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {!result && !error && <p class="muted">{t("federation.token.busy")}</p>}
      {result && (
        <div id="attach-token-result">
          <p>{t("federation.token.intro")}</p>
          <CopyBlock id="attach-token-value" title={t("federation.token.label")} text={result.token} />
          <Notice kind="warning">
            <p id="attach-token-expires" data-expires={result.expires_at}>
              {t("federation.token.expires", { date: dateTime(lang, result.expires_at) })}
            </p>
            <p>{t("federation.token.once")}</p>
          </Notice>
        </div>
      )}
    </Modal>
  );
}
