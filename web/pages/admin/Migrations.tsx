/**
 * Migrations: the orders that move workers between the pools of the cluster (issue 16, admin
 * guide §4.6.2) with their state, signature and times, filtered by state; Approve (a `proposed`
 * order, manual approval), Reject (proposed or issued, with a reason), "Move a worker" by hand;
 * and the cluster's movement policy. Orders change on other pools too (the executor, the target's
 * confirmation), which no live event carries here: the list is reloaded every 5 s and whenever a
 * worker joins or leaves this pool.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { DataTable, type Column } from "../../components/DataTable.js";
import { TextField } from "../../components/Field.js";
import { relativeTime } from "../../components/format.js";
import { Modal } from "../../components/Modal.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import { useLiveEvents } from "../../live.js";
import type { ClusterView } from "../../../src/protocol/cluster.protocol.js";
import type { MigrationList, MigrationOrderState, MigrationOrderView, MigrationPolicy } from "../../../src/protocol/migration.protocol.js";
import { MoveWorkerModal } from "./migrations/MoveWorkerModal.js";
import { PolicyPanel } from "./migrations/PolicyPanel.js";
import { poolLabel, STATE_BADGE } from "./migrations/format.js";
import type { AdminPageProps } from "./pages.js";
import "./content.css";

const REFRESH_MS = 5000;
/** Every state, in the order an order goes through them (the badge table lists each once). */
const STATES = Object.keys(STATE_BADGE) as MigrationOrderState[];

export function MigrationsPage(_p: AdminPageProps) {
  const { t } = useI18n();
  const [orders, setOrders] = useState<MigrationOrderView[]>();
  const [policy, setPolicy] = useState<MigrationPolicy>();
  const [selfAtom, setSelfAtom] = useState<string>();
  const [filter, setFilter] = useState<MigrationOrderState | "">("");
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [moving, setMoving] = useState(false);
  const [rejecting, setRejecting] = useState<MigrationOrderView>();
  const [reason, setReason] = useState("");
  const [rejectBusy, setRejectBusy] = useState(false);
  const [rejectError, setRejectError] = useState<string>();
  const [approving, setApproving] = useState<string>();
  const [now, setNow] = useState(Date.now());
  // The filter as of the latest request: an older answer for another filter is dropped.
  const filterRef = useRef(filter);
  filterRef.current = filter;

  const load = () => {
    const asked = filterRef.current;
    const q = asked ? `?state=${asked}` : "";
    return api<MigrationList>("GET", `/v1/admin/migrations${q}`).then(
      (r) => {
        if (asked !== filterRef.current) return;
        setOrders(r.orders);
        setPolicy(r.policy);
        setError(undefined);
      },
      (e: unknown) => setError(errorText(e, t("common.network"))),
    );
  };

  useEffect(() => {
    api<ClusterView>("GET", "/v1/admin/cluster").then(
      (v) => setSelfAtom(v.pools.find((x) => x.self)?.atom_id),
      () => undefined,
    );
    const tick = setInterval(() => {
      setNow(Date.now());
      void load();
    }, REFRESH_MS);
    return () => clearInterval(tick);
  }, []);
  useEffect(() => void load(), [filter]);
  // A worker leaving (draining for a move) or arriving (the target's side) moves an order on.
  useLiveEvents((e) => {
    if (e.type === "worker.joined" || e.type === "worker.left") void load();
  });

  const nameOf = (o: MigrationOrderView) => o.worker_name ?? o.worker_id;
  const pool = (atom: string, url: string | null) => poolLabel(t, atom, url, atom === selfAtom);

  const approve = async (o: MigrationOrderView) => {
    setApproving(o.id);
    setNotice(undefined);
    setError(undefined);
    try {
      const done = await api<MigrationOrderView>("POST", `/v1/admin/migrations/${encodeURIComponent(o.id)}/approve`);
      setNotice(t("migrations.approved", { name: nameOf(done), pool: pool(done.to_pool, done.to_pool_url) }));
      await load();
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setApproving(undefined);
    }
  };

  const openReject = (o: MigrationOrderView) => {
    setReason("");
    setRejectError(undefined);
    setRejecting(o);
  };

  const reject = async () => {
    if (!rejecting) return;
    setRejectBusy(true);
    setRejectError(undefined);
    try {
      const body = reason.trim() ? { reason: reason.trim() } : {};
      const done = await api<MigrationOrderView>("POST", `/v1/admin/migrations/${encodeURIComponent(rejecting.id)}/reject`, body);
      setNotice(t("migrations.rejected", { name: nameOf(done) }));
      setRejecting(undefined);
      await load();
    } catch (err) {
      setRejectError(errorText(err, t("common.network")));
    } finally {
      setRejectBusy(false);
    }
  };

  const columns: Column<MigrationOrderView>[] = [
    {
      key: "worker",
      header: t("migrations.col.worker"),
      cell: (o) => (
        <>
          <strong>{nameOf(o)}</strong>
          {o.worker_name && <span class="cell-detail">{o.worker_id}</span>}
        </>
      ),
    },
    {
      key: "route",
      header: t("migrations.col.route"),
      cell: (o) => (
        <>
          <span title={o.from_pool} data-pool={o.from_pool}>
            {pool(o.from_pool, o.from_pool_url)}
          </span>
          {" → "}
          <span title={o.to_pool} data-pool={o.to_pool}>
            {pool(o.to_pool, o.to_pool_url)}
          </span>
        </>
      ),
    },
    {
      key: "reason",
      header: t("migrations.col.reason"),
      cell: (o) => (
        <>
          <span class="badge muted" data-reason={o.reason}>
            {t(`migrations.reason.${o.reason}`)}
          </span>
          {o.detail && <span class="cell-detail">{o.detail}</span>}
        </>
      ),
    },
    {
      key: "state",
      header: t("migrations.col.state"),
      cell: (o) => (
        <>
          <span class={`badge ${STATE_BADGE[o.state]}`} data-state={o.state}>
            {t(`migrations.state.${o.state}`)}
          </span>
          {o.state_detail && <span class="cell-detail">{o.state_detail}</span>}
        </>
      ),
    },
    {
      key: "signature",
      header: t("migrations.col.signature"),
      cell: (o) => {
        const label = t(o.signature_valid ? "migrations.signature.ok" : "migrations.signature.bad", { pool: pool(o.issued_by, null) });
        return (
          <span class={o.signature_valid ? "sig ok" : "sig err"} data-valid={String(o.signature_valid)} role="img" aria-label={label} title={label}>
            {o.signature_valid ? "✓" : "✗"}
          </span>
        );
      },
    },
    {
      key: "time",
      header: t("migrations.col.time"),
      cell: (o) => (
        <>
          <span title={o.created_at}>{t("migrations.created", { when: relativeTime(t, o.created_at, now) })}</span>
          <span class="cell-detail" title={o.updated_at}>
            {t("migrations.updated", { when: relativeTime(t, o.updated_at, now) })}
          </span>
        </>
      ),
    },
    {
      key: "actions",
      header: <span class="visually-hidden">{t("migrations.col.actions")}</span>,
      cell: (o) =>
        o.state !== "proposed" && o.state !== "issued" ? null : (
          <span class="row-actions">
            {o.state === "proposed" && (
              <button type="button" class="button primary small" id={`approve-${o.id}`} aria-label={t("migrations.approveNamed", { name: nameOf(o) })} disabled={approving === o.id} onClick={() => void approve(o)}>
                {t("migrations.approve")}
              </button>
            )}
            <button type="button" class="button danger small" id={`reject-${o.id}`} aria-label={t("migrations.rejectNamed", { name: nameOf(o) })} onClick={() => openReject(o)}>
              {t("migrations.reject")}
            </button>
          </span>
        ),
    },
  ];

  return (
    <>
      <div class="page-head">
        <h1>{t("migrations.title")}</h1>
        <div class="toolbar">
          <button type="button" class="button primary" id="move-worker-open" onClick={() => setMoving(true)}>
            {t("migrations.move")}
          </button>
        </div>
      </div>
      <p class="lead" id="migrations-intro">
        {t("migrations.intro")}
      </p>
      {error && (
        <div id="migrations-error">
          <Notice kind="error">{t("ui.error", { message: error })}</Notice>
        </div>
      )}
      {notice && (
        <div id="migrations-notice">
          <Notice kind="success">{notice}</Notice>
        </div>
      )}

      <div class="section-head">
        <h2>{t("migrations.orders")}</h2>
        <div class="toolbar">
          <label for="migrations-state">{t("migrations.filter")}</label>
          <select id="migrations-state" value={filter} onChange={(e) => setFilter(e.currentTarget.value as MigrationOrderState | "")}>
            <option value="">{t("migrations.filter.all")}</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {t(`migrations.state.${s}`)}
              </option>
            ))}
          </select>
        </div>
      </div>
      {orders ? (
        <DataTable
          id="migrations-table"
          columns={columns}
          rows={orders}
          rowKey={(o) => o.id}
          empty={filter ? t("migrations.emptyFiltered") : t("migrations.empty")}
          rowProps={(o) => ({ "data-id": o.id, "data-worker": o.worker_id, "data-state": o.state })}
        />
      ) : (
        !error && <p class="muted">{t("ui.loading")}</p>
      )}

      <PolicyPanel policy={policy} onSaved={setPolicy} />

      <MoveWorkerModal
        open={moving}
        onClose={() => setMoving(false)}
        onCreated={(o) => {
          setMoving(false);
          setNotice(t("migrations.orderCreated", { name: nameOf(o), pool: pool(o.to_pool, o.to_pool_url), state: t(`migrations.state.${o.state}`) }));
          void load();
        }}
      />
      <Modal
        id="reject-order"
        open={!!rejecting}
        title={t("migrations.reject.title", { name: rejecting ? nameOf(rejecting) : "" })}
        onClose={() => setRejecting(undefined)}
        footer={
          <>
            <button type="button" class="button secondary" id="reject-cancel" onClick={() => setRejecting(undefined)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class="button danger" id="reject-confirm" disabled={rejectBusy} onClick={() => void reject()}>
              {rejectBusy ? t("migrations.reject.busy") : t("migrations.reject.confirm")}
            </button>
          </>
        }
      >
        <p>{t("migrations.reject.body")}</p>
        <TextField id="reject-reason" label={t("migrations.reject.reason")} optional={t("common.optional")} help={t("migrations.reject.reasonHelp")} value={reason} onInput={setReason} />
        {rejectError && (
          <div id="reject-error">
            <Notice kind="error">{t("ui.error", { message: rejectError })}</Notice>
          </div>
        )}
      </Modal>
    </>
  );
}
