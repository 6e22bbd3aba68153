/**
 * "Add a worker": OS + hardware (preselected from the wizard's hardware answers) + site + mobility + "employee desktop" (issue 21: `--desktop`) + model path → POST /v1/admin/provisioning → the
 * single-use code's expiry and the three files (config.json, install script, start script) to copy.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { CopyBlock } from "../../../components/CopyBlock.js";
import { CheckboxField, SelectField, TextField } from "../../../components/Field.js";
import { dateTime } from "../../../components/format.js";
import { Modal } from "../../../components/Modal.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { WorkerMobility } from "../../../../src/protocol/migration.protocol.js";
import type { ProvisioningBody, ProvisioningResult } from "../../../../src/protocol/provisioning.protocol.js";
import type { BalancingView } from "../../../../src/protocol/settings.protocol.js";
import type { ProvisioningDefaults } from "../../../../src/protocol/branding.protocol.js";

export function AddWorkerModal(p: { open: boolean; onClose: () => void }) {
  const { t, lang } = useI18n();
  const [os, setOs] = useState<"linux" | "macos" | "windows">("linux");
  const [hardware, setHardware] = useState<"cpu" | "gpu">("cpu");
  const [site, setSite] = useState("");
  const [mobility, setMobility] = useState<WorkerMobility>("mobile");
  const [desktop, setDesktop] = useState(false);
  const [model, setModel] = useState("");
  const [sites, setSites] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [result, setResult] = useState<ProvisioningResult>();
  const [defaults, setDefaults] = useState<ProvisioningDefaults>();

  useEffect(() => {
    if (!p.open) return;
    setResult(undefined);
    setError(undefined);
    // The hardware the wizard's answers point to (GPU servers only → gpu; else cpu).
    api<ProvisioningDefaults>("GET", "/v1/admin/provisioning/defaults").then(
      (d) => {
        setDefaults(d);
        setHardware(d.hardware);
      },
      () => setDefaults(undefined),
    );
    api<BalancingView>("GET", "/v1/admin/balancing").then(
      (b) => setSites(b.sites.map((s) => s.name)),
      () => setSites([]),
    );
  }, [p.open]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body: ProvisioningBody = { os, hardware, site: site || null, mobility, ...(desktop ? { desktop: true } : {}) };
      if (model.trim()) body.model_path = model.trim();
      setResult(await api<ProvisioningResult>("POST", "/v1/admin/provisioning", body));
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal id="add-worker" open={p.open} title={t("workers.add.title")} onClose={p.onClose}>
      {!result ? (
        <form onSubmit={(e) => void submit(e)} noValidate id="add-worker-form">
          <p class="lead">{t("workers.add.intro")}</p>
          {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
          <div class="row">
            <SelectField
              id="add-os"
              label={t("workers.add.os")}
              value={os}
              onChange={(v) => setOs(v as typeof os)}
              options={(["linux", "macos", "windows"] as const).map((o) => ({ value: o, label: t(`os.${o}`) }))}
            />
            <SelectField
              id="add-hardware"
              label={t("workers.add.hardware")}
              value={hardware}
              onChange={(v) => setHardware(v as typeof hardware)}
              options={[
                { value: "cpu", label: t("workers.add.cpu") },
                { value: "gpu", label: t("workers.add.gpu") },
              ]}
            />
          </div>
          {defaults?.source === "wizard" && (
            <p class="help" id="add-defaults">
              {t("workers.add.fromWizard")}
              {defaults.hub_url && <> {t("workers.add.hub", { url: defaults.hub_url })}</>}
            </p>
          )}
          <SelectField
            id="add-site"
            label={t("workers.add.site")}
            help={t("workers.add.siteHelp")}
            value={site}
            onChange={setSite}
            options={[{ value: "", label: t("workers.add.siteNone") }, ...sites.map((s) => ({ value: s, label: s }))]}
          />
          <SelectField
            id="add-mobility"
            label={t("workers.add.mobility")}
            help={t("workers.add.mobilityHelp")}
            value={mobility}
            onChange={(v) => setMobility(v as WorkerMobility)}
            options={(["mobile", "on-site"] as const).map((m) => ({ value: m, label: t(`workers.add.mobility.${m}`) }))}
          />
          <CheckboxField id="add-desktop" label={t("desktops.add.desktop")} help={t("desktops.add.desktopHelp")} checked={desktop} onChange={setDesktop} />
          <TextField id="add-model" label={t("workers.add.model")} optional={t("common.optional")} help={t("workers.add.modelHelp")} value={model} onInput={setModel} />
          <div class="actions">
            <button type="button" class="button secondary" onClick={p.onClose}>
              {t("ui.cancel")}
            </button>
            <button type="submit" class="button primary" id="add-submit" disabled={busy}>
              {busy ? t("workers.add.busy") : t("workers.add.submit")}
            </button>
          </div>
        </form>
      ) : (
        <div id="add-worker-result">
          <Notice kind="warning">
            <p id="add-expires">{t("workers.add.expires", { date: dateTime(lang, result.expires_at) })}</p>
            <p>{t("workers.add.once")}</p>
          </Notice>
          <p>{t("workers.add.steps")}</p>
          {result.files.map((f, i) => (
            <CopyBlock key={f.name} id={`snippet-${i}`} title={f.name} text={f.content} />
          ))}
          <div class="actions">
            <button type="button" class="button secondary" id="add-another" onClick={() => setResult(undefined)}>
              {t("workers.add.another")}
            </button>
            <button type="button" class="button primary" onClick={p.onClose}>
              {t("ui.close")}
            </button>
          </div>
        </div>
      )}
    </Modal>
  );
}
