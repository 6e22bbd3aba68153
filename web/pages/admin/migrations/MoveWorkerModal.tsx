/**
 * "Move a worker" (POST /v1/admin/migrations, reason `admin`) and, for a worker connected nowhere,
 * "Force failover" (the same order with `force_failover: true`, for the manual failover mode).
 * The workers come from GET /v1/admin/workers, the target pools from the cluster view
 * (GET /v1/admin/cluster); the worker's current pool is not offered. The API's refusal (unknown
 * worker or pool, an open order already, an on-site worker sent off its site) is shown as is.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { SelectField } from "../../../components/Field.js";
import { Modal } from "../../../components/Modal.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { WorkerList, WorkerSummary } from "../../../../src/protocol/admin.protocol.js";
import type { ClusterPool, ClusterView } from "../../../../src/protocol/cluster.protocol.js";
import type { MigrationOrderView } from "../../../../src/protocol/migration.protocol.js";
import { poolLabel } from "./format.js";

export interface MoveTarget {
  /** Pre-selected worker (the Workers page's per-row action). */
  workerId?: string;
  /** Its name, for the title before the worker list has loaded. */
  workerName?: string;
  /** Manual failover mode: send a worker whose pool is down to a peer. */
  force?: boolean;
}

export function MoveWorkerModal(p: { open: boolean; target?: MoveTarget | undefined; onClose: () => void; onCreated: (order: MigrationOrderView) => void }) {
  const { t } = useI18n();
  const [workers, setWorkers] = useState<WorkerSummary[]>();
  const [pools, setPools] = useState<ClusterPool[]>();
  const [workerId, setWorkerId] = useState("");
  const [poolId, setPoolId] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const force = p.target?.force === true;

  useEffect(() => {
    if (!p.open) return;
    setError(undefined);
    setWorkers(undefined);
    setPools(undefined);
    setWorkerId(p.target?.workerId ?? "");
    setPoolId("");
    const fail = (e: unknown) => setError(errorText(e, t("common.network")));
    api<WorkerList>("GET", "/v1/admin/workers").then((r) => {
      const list = r.data.filter((w) => !w.revoked);
      setWorkers(list);
      setWorkerId((id) => id || (list[0]?.id ?? ""));
    }, fail);
    api<ClusterView>("GET", "/v1/admin/cluster").then((v) => setPools(v.pools), fail);
  }, [p.open]);

  const worker = workers?.find((w) => w.id === workerId);
  // Where the worker is now: the pool it is connected to, else nowhere (every pool is a target).
  const currentPool = worker?.connected ? pools?.find((x) => x.self)?.atom_id : worker?.pool?.atom_id;
  const candidates = (pools ?? []).filter((x) => x.atom_id !== currentPool);

  // Keep the pool choice valid when the worker changes: the first available candidate by default.
  useEffect(() => {
    if (!pools) return;
    if (!candidates.some((c) => c.atom_id === poolId)) setPoolId((candidates.find((c) => c.available) ?? candidates[0])?.atom_id ?? "");
  }, [pools, workerId, workers]);

  const workerLabel = (w: WorkerSummary) => {
    if (w.connected) return t("migrations.move.workerHere", { name: w.name });
    if (w.pool) return t("migrations.move.workerOn", { name: w.name, pool: poolLabel(t, w.pool.atom_id, w.pool.url, w.pool.self) });
    return t("migrations.move.workerNowhere", { name: w.name });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!workerId || !poolId) return;
    setBusy(true);
    setError(undefined);
    try {
      p.onCreated(await api<MigrationOrderView>("POST", "/v1/admin/migrations", { worker_id: workerId, to_pool: poolId, force_failover: force }));
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const named = p.target?.workerId ? (p.target.workerName ?? worker?.name ?? p.target.workerId) : undefined;
  const title = force ? t("migrations.failover.title", { name: named ?? "" }) : named ? t("migrations.move.titleNamed", { name: named }) : t("migrations.move.title");
  const loaded = workers !== undefined && pools !== undefined;

  return (
    <Modal id="move-worker" open={p.open} title={title} onClose={p.onClose}>
      <form id="move-worker-form" onSubmit={(e) => void submit(e)} noValidate>
        {force ? (
          <Notice kind="info">
            <p id="move-failover-explain">{t("migrations.failover.intro")}</p>
          </Notice>
        ) : (
          <p class="lead">{t("migrations.move.intro")}</p>
        )}
        {error && (
          <div id="move-error">
            <Notice kind="error">{t("ui.error", { message: error })}</Notice>
          </div>
        )}
        {workers && workers.length === 0 && <p class="muted">{t("migrations.move.noWorker")}</p>}
        {workers && workers.length > 0 && (
          <SelectField
            id="move-worker-select"
            label={t("migrations.move.worker")}
            help={worker?.mobility === "on-site" ? t("migrations.move.onSite") : undefined}
            value={workerId}
            onChange={setWorkerId}
            options={workers.map((w) => ({ value: w.id, label: workerLabel(w) }))}
          />
        )}
        {pools && candidates.length === 0 && <Notice kind="warning">{t("migrations.move.noPool")}</Notice>}
        {pools && candidates.length > 0 && (
          <SelectField
            id="move-pool-select"
            label={t("migrations.move.pool")}
            value={poolId}
            onChange={setPoolId}
            options={candidates.map((x) => {
              const label = poolLabel(t, x.atom_id, x.pool_url, x.self);
              return { value: x.atom_id, label: x.available ? label : t("migrations.move.poolUnavailable", { pool: label }) };
            })}
          />
        )}
        {!loaded && !error && <p class="muted">{t("ui.loading")}</p>}
        <div class="actions">
          <button type="button" class="button secondary" onClick={p.onClose}>
            {t("ui.cancel")}
          </button>
          <button type="submit" class="button primary" id="move-submit" disabled={busy || !workerId || !poolId}>
            {busy ? t("migrations.move.busy") : force ? t("migrations.failover.submit") : t("migrations.move.submit")}
          </button>
        </div>
      </form>
    </Modal>
  );
}
