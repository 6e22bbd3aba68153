/**
 * Workers: every enrolled worker with its live state (kept current by worker.* events), the pool
 * it is on and its mobility, "Move to pool…" (a migration order by hand), "Force failover…" for a
 * worker connected nowhere (manual failover mode), Revoke behind a confirmation, and "Add a
 * worker" (provisioning code + install files). Below, the
 * workers of the other bonded pools (GET /v1/admin/cluster, refreshed every 5 s: they come from
 * the peers' capacity summaries, which no live event carries), each with the pool it is on. An
 * employee desktop (issue 21) shows its state (dormant, owner active…) under its status, and the
 * desktops' harvest (dormant hours, tokens) follows the table.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { DataTable, type Column } from "../../components/DataTable.js";
import { bytes, relativeTime } from "../../components/format.js";
import { Modal } from "../../components/Modal.js";
import { LevelSelect } from "../../components/LevelSelect.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import { useLiveEvents } from "../../live.js";
import type { RevokedWorker, WorkerClearanceResult, WorkerList, WorkerSummary } from "../../../src/protocol/admin.protocol.js";
import type { SensitivityLevel } from "../../../src/protocol/sensitivity.protocol.js";
import type { ClusterView, ClusterWorker } from "../../../src/protocol/cluster.protocol.js";
import type { AdminPageProps } from "./pages.js";
import { MoveWorkerModal, type MoveTarget } from "./migrations/MoveWorkerModal.js";
import { AddWorkerModal } from "./workers/AddWorkerModal.js";
import { DesktopHarvest } from "./workers/DesktopHarvest.js";
import { DesktopStateBadge } from "./workers/DesktopStateBadge.js";

/** `away`: connected to another pool of the cluster (moved there, or failed over). */
type Status = "connected" | "away" | "offline" | "revoked";
const statusOf = (w: WorkerSummary): Status => (w.revoked ? "revoked" : w.connected ? "connected" : w.pool && !w.pool.self ? "away" : "offline");
const BADGE: Record<Status, string> = { connected: "ok", away: "ok", offline: "muted", revoked: "err" };

function busyOf(w: WorkerSummary): number | null {
  if (w.busy_slots !== null && w.busy_slots !== undefined) return w.busy_slots;
  if (w.slots !== null && w.free_slots !== null) return Math.max(0, w.slots - w.free_slots);
  return null;
}

type RemoteWorker = ClusterWorker & { pool: string; available: boolean };

/** The workers of the other pools of the cluster, with the pool each is on. */
function ClusterWorkers(p: { workers: RemoteWorker[] }) {
  const { t } = useI18n();
  const columns: Column<RemoteWorker>[] = [
    { key: "pool", header: t("workers.cluster.col.pool"), cell: (w) => <code>{w.pool}</code> },
    { key: "name", header: t("workers.col.name"), cell: (w) => <strong>{w.name}</strong> },
    { key: "site", header: t("workers.col.site"), cell: (w) => w.site ?? <span class="muted">{t("workers.noSite")}</span> },
    { key: "class", header: t("workers.col.class"), cell: (w) => <code>{w.hardware_class}</code> },
    { key: "models", header: t("workers.col.models"), cell: (w) => (w.models.length ? w.models.join(", ") : "—") },
    { key: "slots", header: t("workers.col.slots"), num: true, cell: (w) => `${w.busy} / ${Math.max(0, w.slots - w.busy)}` },
    {
      key: "status",
      header: t("workers.col.status"),
      cell: (w) => <span class={`badge ${w.available ? "ok" : "muted"}`}>{t(w.available ? "workers.status.connected" : "workers.cluster.unavailable")}</span>,
    },
  ];
  return (
    <section aria-labelledby="cluster-workers-h">
      <h2 id="cluster-workers-h">{t("workers.cluster.title")}</h2>
      <p class="muted">{t("workers.cluster.intro")}</p>
      <DataTable id="cluster-workers-table" columns={columns} rows={p.workers} rowKey={(w) => `${w.pool}/${w.id}`} empty={t("workers.cluster.empty")} rowProps={(w) => ({ "data-name": w.name, "data-pool": w.pool })} />
    </section>
  );
}

export function WorkersPage(_p: AdminPageProps) {
  const { t } = useI18n();
  const [workers, setWorkers] = useState<WorkerSummary[]>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [adding, setAdding] = useState(() => new URLSearchParams(location.search).has("add"));
  const [revoking, setRevoking] = useState<WorkerSummary>();
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<string>();
  const [now, setNow] = useState(Date.now());
  const [remote, setRemote] = useState<RemoteWorker[]>();
  const [moveTarget, setMoveTarget] = useState<MoveTarget>();

  const load = () =>
    api<WorkerList>("GET", "/v1/admin/workers").then(
      (r) => {
        setWorkers(r.data);
        setError(undefined);
      },
      (e: unknown) => setError(errorText(e, t("common.network"))),
    );
  const loadCluster = () =>
    api<ClusterView>("GET", "/v1/admin/cluster").then(
      (v) => setRemote(v.pools.filter((x) => !x.self).flatMap((x) => x.workers.map((w) => ({ ...w, pool: x.pool_url ?? x.atom_id.slice(0, 12), available: x.available })))),
      () => setRemote(undefined),
    );
  useEffect(() => {
    void load();
    void loadCluster();
    // Re-render relative times ("12 s ago"). This pool's workers come from live events, but where a
    // worker went after leaving (a peer, after a move or a failover) only the list says: reload it too.
    const tick = setInterval(() => {
      setNow(Date.now());
      void load();
      void loadCluster();
    }, 5000);
    return () => clearInterval(tick);
  }, []);

  const upsert = (w: WorkerSummary) =>
    setWorkers((list) => {
      if (!list) return list;
      const i = list.findIndex((x) => x.id === w.id);
      if (i < 0) return [...list, w];
      const next = list.slice();
      next[i] = { ...list[i]!, ...w };
      return next;
    });

  useLiveEvents((e) => {
    if (e.type === "worker.joined" || e.type === "worker.updated") upsert(e.worker);
    else if (e.type === "worker.left") {
      const id = e.worker_id;
      // It left this pool: where it goes next (a peer after a move or a failover) shows on the next load.
      setWorkers((list) => list?.map((w) => (w.id === id ? { ...w, connected: false, busy_slots: null, free_slots: null, last_seen_at: new Date().toISOString(), pool: w.pool?.self ? null : w.pool } : w)));
    }
  });

  const closeAdd = () => {
    setAdding(false);
    if (location.search) history.replaceState(null, "", location.pathname);
  };

  /** The admin's clearance for a worker (null: the default of its kind), applied at once by the pool. */
  const setClearance = async (w: WorkerSummary, clearance: SensitivityLevel | null) => {
    try {
      const r = await api<WorkerClearanceResult>("PUT", `/v1/admin/workers/${encodeURIComponent(w.id)}/clearance`, { clearance });
      upsert({ ...w, clearance: r.clearance, effective_clearance: r.effective_clearance });
      setNotice(t("sensitivity.worker.saved", { name: w.name, level: t(`sensitivity.level.${r.effective_clearance}`) }));
    } catch (err) {
      setError(errorText(err, t("common.network")));
    }
  };

  const revoke = async () => {
    if (!revoking) return;
    setRevokeBusy(true);
    setRevokeError(undefined);
    try {
      await api<RevokedWorker>("POST", `/v1/admin/workers/${encodeURIComponent(revoking.id)}/revoke`);
      upsert({ ...revoking, revoked: true, connected: false });
      setNotice(t("workers.revoked", { name: revoking.name }));
      setRevoking(undefined);
    } catch (err) {
      setRevokeError((err as Error).message);
    } finally {
      setRevokeBusy(false);
    }
  };

  const columns: Column<WorkerSummary>[] = [
    { key: "name", header: t("workers.col.name"), cell: (w) => <strong>{w.name}</strong> },
    { key: "site", header: t("workers.col.site"), cell: (w) => w.site ?? <span class="muted">{t("workers.noSite")}</span> },
    {
      key: "pool",
      header: t("workers.col.pool"),
      cell: (w) => {
        // Connected here (a guest after a failover names its home pool), on another pool of the cluster, or nowhere.
        if (w.connected) {
          return (
            <>
              {t("workers.pool.here")}
              {w.home_pool_url && <span class="cell-detail" data-failover={w.failover_state ?? ""}>{t("workers.pool.guest", { home: hostOf(w.home_pool_url) })}</span>}
            </>
          );
        }
        if (w.pool) return <span title={w.pool.atom_id}>{w.pool.url ? hostOf(w.pool.url) : w.pool.atom_id}</span>;
        return "—";
      },
    },
    {
      key: "mobility",
      header: t("workers.col.mobility"),
      cell: (w) => (
        <span class={`badge ${w.mobility === "on-site" ? "warn" : "muted"}`} data-mobility={w.mobility} title={t(`workers.mobility.${w.mobility}Help`)}>
          {t(`workers.mobility.${w.mobility}`)}
        </span>
      ),
    },
    {
      key: "clearance",
      header: t("sensitivity.worker.col"),
      cell: (w) =>
        w.revoked ? (
          t(`sensitivity.level.${w.effective_clearance}`)
        ) : (
          <span title={t("sensitivity.worker.help")} data-clearance={w.effective_clearance}>
            <LevelSelect
              id={`clearance-${w.id}`}
              label={t("sensitivity.worker.label", { name: w.name })}
              value={w.clearance}
              // The default a desktop or a server gets when no clearance is set.
              defaultLevel={w.desktop ? "internal" : "confidential"}
              onChange={(level) => void setClearance(w, level)}
            />
          </span>
        ),
    },
    {
      key: "class",
      header: t("workers.col.class"),
      cell: (w) => {
        const h = w.hardware;
        const detail = [h.cores !== null && t("workers.cores", { n: h.cores }), h.ram_bytes !== null && bytes(h.ram_bytes), h.gpu].filter(Boolean).join(" · ");
        return (
          <>
            {w.hardware_class ? <code>{w.hardware_class}</code> : "—"}
            {detail && <span class="cell-detail">{detail}</span>}
          </>
        );
      },
    },
    { key: "models", header: t("workers.col.models"), cell: (w) => (w.models.length ? w.models.join(", ") : "—") },
    {
      key: "slots",
      header: t("workers.col.slots"),
      num: true,
      cell: (w) => {
        const busy = busyOf(w);
        return w.connected && busy !== null ? `${busy} / ${w.free_slots ?? Math.max(0, (w.slots ?? 0) - busy)}` : "—";
      },
    },
    {
      key: "load",
      header: t("workers.col.load"),
      cell: (w) => {
        const busy = busyOf(w);
        if (!w.connected || busy === null || !w.slots) return "—";
        const pct = Math.round((busy / w.slots) * 100);
        return (
          <div class={`progress${pct >= 100 ? " err" : pct >= 75 ? " warn" : ""}`} role="img" aria-label={t("workers.loadLabel", { pct })} title={`${pct}%`}>
            <div class="progress-bar" style={{ width: `${pct}%` }} />
          </div>
        );
      },
    },
    { key: "heartbeat", header: t("workers.col.heartbeat"), cell: (w) => <span title={w.last_seen_at ?? ""}>{relativeTime(t, w.last_seen_at, now)}</span> },
    { key: "version", header: t("workers.col.version"), cell: (w) => w.agent_version ?? "—" },
    {
      key: "status",
      header: t("workers.col.status"),
      cell: (w) => {
        const s = statusOf(w);
        return (
          <>
            <span class={`badge ${BADGE[s]}`} data-status={s}>{t(`workers.status.${s}`)}</span>
            {w.desktop && (
              <span class="cell-detail" data-desktop="true">
                {t("desktops.badge")} {w.connected && <DesktopStateBadge state={w.desktop_state} />}
              </span>
            )}
          </>
        );
      },
    },
    {
      key: "actions",
      header: <span class="visually-hidden">{t("workers.col.actions")}</span>,
      cell: (w) =>
        w.revoked ? null : (
          <span class="row-actions">
            {/* Connected somewhere: an order moves it; connected nowhere: only a forced failover can reach it (it asks the peers). */}
            {w.pool || w.connected ? (
              <button type="button" class="button secondary small" id={`move-${w.id}`} aria-label={t("workers.moveNamed", { name: w.name })} onClick={() => setMoveTarget({ workerId: w.id, workerName: w.name })}>
                {t("workers.move")}
              </button>
            ) : (
              <button type="button" class="button secondary small" id={`failover-${w.id}`} aria-label={t("workers.failoverNamed", { name: w.name })} onClick={() => setMoveTarget({ workerId: w.id, workerName: w.name, force: true })}>
                {t("workers.failover")}
              </button>
            )}
            <button type="button" class="button danger small" id={`revoke-${w.id}`} aria-label={t("workers.revokeNamed", { name: w.name })} onClick={() => { setRevokeError(undefined); setRevoking(w); }}>
              {t("workers.revoke")}
            </button>
          </span>
        ),
    },
  ];

  return (
    <>
      <div class="page-head">
        <h1>{t("workers.title")}</h1>
        <div class="toolbar">
          <button type="button" class="button primary" id="add-worker-open" onClick={() => setAdding(true)}>
            {t("workers.add")}
          </button>
        </div>
      </div>
      <p class="lead">{t("workers.intro")}</p>
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {notice && <Notice kind="success">{notice}</Notice>}
      {workers ? (
        <DataTable id="workers-table" columns={columns} rows={workers} rowKey={(w) => w.id} empty={t("workers.empty")} rowProps={(w) => ({ "data-name": w.name, "data-status": statusOf(w) })} />
      ) : (
        !error && <p class="muted">{t("ui.loading")}</p>
      )}

      <DesktopHarvest refreshKey={Math.floor(now / 30_000)} />

      {remote && remote.length > 0 && <ClusterWorkers workers={remote} />}

      <AddWorkerModal open={adding} onClose={closeAdd} />
      <MoveWorkerModal
        open={!!moveTarget}
        target={moveTarget}
        onClose={() => setMoveTarget(undefined)}
        onCreated={(o) => {
          setMoveTarget(undefined);
          setNotice(t("migrations.orderCreated", { name: o.worker_name ?? o.worker_id, pool: o.to_pool_url ? hostOf(o.to_pool_url) : o.to_pool, state: t(`migrations.state.${o.state}`) }));
        }}
      />
      <Modal
        id="revoke-worker"
        open={!!revoking}
        title={t("workers.revoke.title", { name: revoking?.name ?? "" })}
        onClose={() => setRevoking(undefined)}
        footer={
          <>
            <button type="button" class="button secondary" id="revoke-cancel" onClick={() => setRevoking(undefined)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class="button danger" id="revoke-confirm" disabled={revokeBusy} onClick={() => void revoke()}>
              {revokeBusy ? t("workers.revoke.busy") : t("workers.revoke.confirm")}
            </button>
          </>
        }
      >
        <p>{t("workers.revoke.body")}</p>
        {revokeError && <Notice kind="error">{t("ui.error", { message: revokeError })}</Notice>}
      </Modal>
    </>
  );
}

/** host:port of a pool URL (the URL itself when it does not parse). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
