/**
 * Dashboard page: Models (issue 19, admin guide §4.6.3). The cluster's model catalogue over
 * /v1/admin/models: upload a GGUF (resumable), each model's header facts, its role and hardware
 * classes edited inline, delete behind a confirmation, a file fetched onto this pool on demand. On a satellite pool the catalogue is
 * read-only (a banner names the master) and "Promote to master" is offered behind a dialog that
 * explains the consequences.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api.js";
import { Modal } from "../../components/Modal.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import type { CatalogueList, CatalogueModel, ModelRole, PatchModelBody } from "../../../src/protocol/models.protocol.js";
import type { HardwareClass } from "../../../src/protocol/worker.protocol.js";
import { catalogueErrorText } from "./models/catalogue-terms.js";
import { ModelTable } from "./models/ModelTable.js";
import { ModelUploadPanel } from "./models/ModelUploadPanel.js";
import { PromoteMasterModal } from "./models/PromoteMasterModal.js";
import type { AdminPageProps } from "./pages.js";
import "./models/models.css";

export function ModelsPage(_p: AdminPageProps) {
  const { t } = useI18n();
  const [list, setList] = useState<CatalogueList>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [deleting, setDeleting] = useState<CatalogueModel>();
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string>();
  const [promoting, setPromoting] = useState(false);

  const load = () =>
    api<CatalogueList>("GET", "/v1/admin/models").then(
      (l) => {
        setList(l);
        setError(undefined);
      },
      (err: unknown) => setError(catalogueErrorText(t, err)),
    );
  useEffect(() => {
    void load();
    // A satellite fetches files on first use and replicates changes made on the master: show them
    // (quietly: a refresh neither clears nor raises the message of the admin's last action).
    const tick = setInterval(() => void api<CatalogueList>("GET", "/v1/admin/models").then(setList, () => undefined), 15_000);
    return () => clearInterval(tick);
  }, []);

  const replace = (m: CatalogueModel) => setList((l) => l && { ...l, models: l.models.map((x) => (x.model_id === m.model_id ? m : x)) });

  /** PATCHes one model; on a refusal the page says why and shows the catalogue as the pool has it. */
  const patch = async (m: CatalogueModel, body: PatchModelBody, done: string): Promise<boolean> => {
    setNotice(undefined);
    try {
      replace(await api<CatalogueModel>("PATCH", `/v1/admin/models/${encodeURIComponent(m.model_id)}`, body));
      setError(undefined);
      setNotice(done);
      return true;
    } catch (err) {
      setError(catalogueErrorText(t, err));
      void load();
      return false;
    }
  };
  const setRole = (m: CatalogueModel, role: ModelRole) => void patch(m, { role }, t("catalogue.roleSaved", { name: m.name, role: t(`catalogue.role.${role}`) }));
  const setClasses = (m: CatalogueModel, hardware_classes: HardwareClass[]) =>
    patch(m, { hardware_classes }, t("catalogue.classesSaved", { name: m.name, classes: hardware_classes.length ? hardware_classes.join(", ") : t("catalogue.classes.all") }));

  const fetchFile = async (m: CatalogueModel) => {
    setNotice(undefined);
    try {
      replace(await api<CatalogueModel>("POST", `/v1/admin/models/${encodeURIComponent(m.model_id)}/fetch`));
      setError(undefined);
      setNotice(t("catalogue.file.fetched", { name: m.name }));
    } catch (err) {
      setError(catalogueErrorText(t, err));
    }
  };

  const remove = async () => {
    if (!deleting) return;
    setDeleteBusy(true);
    setDeleteError(undefined);
    try {
      await api("DELETE", `/v1/admin/models/${encodeURIComponent(deleting.model_id)}`);
      setList((l) => l && { ...l, models: l.models.filter((x) => x.model_id !== deleting.model_id) });
      setNotice(t("catalogue.deleted", { name: deleting.name }));
      setDeleting(undefined);
    } catch (err) {
      setDeleteError(catalogueErrorText(t, err));
    } finally {
      setDeleteBusy(false);
    }
  };

  const master = list?.master;
  const readOnly = !!master && !master.self;
  return (
    <>
      <div class="page-head">
        <h1>{t("catalogue.title")}</h1>
        {readOnly && (
          <div class="toolbar">
            <button type="button" class="button secondary" id="promote-open" onClick={() => setPromoting(true)}>
              {t("catalogue.promote.open")}
            </button>
          </div>
        )}
      </div>
      <p class="lead">{t("catalogue.intro")}</p>
      {master && (
        <div id="catalogue-role" data-role={master.self ? "master" : "satellite"}>
          {readOnly ? (
            <Notice kind="warning">
              <p>
                <strong>{t("catalogue.satellite.title")}</strong> {t("catalogue.satellite.body", { url: master.master_url ?? t("catalogue.masterUnknown") })}
              </p>
            </Notice>
          ) : (
            <p class="muted">{t("catalogue.master")}</p>
          )}
        </div>
      )}
      {error && <Notice kind="error">{error}</Notice>}
      {notice && <Notice kind="success">{notice}</Notice>}
      {list && (
        <>
          <ModelUploadPanel
            readOnly={readOnly}
            onUploaded={(m) => {
              setNotice(t("catalogue.uploaded", { name: m.name, architecture: m.architecture ?? "?" }));
              setError(undefined);
              void load();
            }}
          />
          <section aria-labelledby="models-list-title">
            <h2 id="models-list-title">{t("catalogue.list.title")}</h2>
            <ModelTable models={list.models} readOnly={readOnly} onRole={setRole} onClasses={setClasses} onFetch={fetchFile} onDelete={(m) => { setDeleteError(undefined); setDeleting(m); }} />
          </section>
        </>
      )}
      {!list && !error && <p class="muted">{t("ui.loading")}</p>}

      <Modal
        id="model-delete"
        open={!!deleting}
        title={t("catalogue.delete.title", { name: deleting?.name ?? "" })}
        onClose={() => setDeleting(undefined)}
        footer={
          <>
            <button type="button" class="button secondary" id="model-delete-cancel" onClick={() => setDeleting(undefined)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class="button danger" id="model-delete-confirm" disabled={deleteBusy} onClick={() => void remove()}>
              {deleteBusy ? t("catalogue.delete.busy") : t("catalogue.delete.confirm")}
            </button>
          </>
        }
      >
        <p>{t("catalogue.delete.body")}</p>
        {deleteError && <Notice kind="error">{deleteError}</Notice>}
      </Modal>
      <PromoteMasterModal
        open={promoting}
        masterUrl={master?.master_url ?? null}
        onClose={() => setPromoting(false)}
        onPromoted={() => {
          setPromoting(false);
          setNotice(t("catalogue.promote.done"));
          void load();
        }}
      />
    </>
  );
}
