/**
 * Federation: this pool's identity and switches (kill switch behind a confirmation), the bonded
 * sites with their human names (replicated by each pool), trust, last seen and latency, "Create attachment token" (shown once), "Bond with a
 * pool" (paste a token), Promote to trust 3 and Unbond (each confirmed). Latency and reachability
 * follow the prober's `topology` live events.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { DataTable, type Column } from "../../components/DataTable.js";
import { relativeTime } from "../../components/format.js";
import { Modal } from "../../components/Modal.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import { useLiveEvents } from "../../live.js";
import { BondModal } from "./federation/BondModal.js";
import { TokenModal } from "./federation/TokenModal.js";
import type { IdentityView } from "../../../src/protocol/branding.protocol.js";
import type { FederationAdminStatus, PeerList, PeerSummary } from "../../../src/protocol/federation.protocol.js";
import { CLASS_BADGE, hostOf, ms, shortId } from "./federation/format.js";
import type { AdminPageProps } from "./pages.js";

const MIN_TRUST = 3;

type Confirm = { kind: "promote" | "unbond"; peer: PeerSummary } | { kind: "kill" | "unkill" };

export function FederationPage(_p: AdminPageProps) {
  const { t } = useI18n();
  const [status, setStatus] = useState<FederationAdminStatus>();
  const [peers, setPeers] = useState<PeerSummary[]>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [tokenOpen, setTokenOpen] = useState(false);
  const [bondOpen, setBondOpen] = useState(false);
  const [confirm, setConfirm] = useState<Confirm>();
  const [busy, setBusy] = useState(false);
  const [confirmError, setConfirmError] = useState<string>();
  const [now, setNow] = useState(Date.now());
  const [identity, setIdentity] = useState<IdentityView>();
  const nameOf = (atom: string) => identity?.peers.find((x) => x.atom_id === atom)?.name ?? null;

  const fail = (e: unknown) => setError(errorText(e, t("common.network")));
  const loadStatus = () => api<FederationAdminStatus>("GET", "/v1/federation/admin/status").then(setStatus, fail);
  const loadPeers = () => api<PeerList>("GET", "/v1/federation/peers").then((r) => setPeers(r.data), fail);
  // Human pool names: this pool's, and its peers' as each of them replicated it (GET /v1/admin/identity).
  const loadNames = () => api<IdentityView>("GET", "/v1/admin/identity").then(setIdentity, () => undefined);
  const reload = () => Promise.all([loadStatus(), loadPeers(), loadNames()]);

  useEffect(() => {
    void reload();
    const tick = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(tick);
  }, []);

  // Each probe round: latency, class and reachability of the bonded peers; a new or removed peer reloads the list.
  useLiveEvents((topo) => {
    if (topo.type !== "topology") return;
    // A peer's name arrives by replication: read the names again with each probe round.
    void loadNames();
    setPeers((list) => {
      if (!list) return list;
      const known = new Set(list.filter((p) => p.status === "bonded").map((p) => p.atom_id));
      if (topo.peers.length !== known.size || topo.peers.some((p) => !known.has(p.atom_id))) void loadPeers();
      return list.map((p) => {
        const live = topo.peers.find((x) => x.atom_id === p.atom_id);
        return live ? { ...p, latency_ms: live.latency_ms, network_class: live.network_class, last_seen_at: live.last_seen_at ?? p.last_seen_at, last_error: live.reachable ? null : (live.error ?? p.last_error) } : p;
      });
    });
  });

  const runConfirm = async () => {
    if (!confirm) return;
    setBusy(true);
    setConfirmError(undefined);
    try {
      if (confirm.kind === "promote") {
        await api<PeerSummary>("POST", `/v1/federation/peers/${encodeURIComponent(confirm.peer.atom_id)}/promote`, { target_level: MIN_TRUST });
        setNotice(t("federation.promoted", { url: confirm.peer.url }));
      } else if (confirm.kind === "unbond") {
        await api("DELETE", `/v1/federation/peers/${encodeURIComponent(confirm.peer.atom_id)}`);
        setNotice(t("federation.unbonded", { url: confirm.peer.url }));
      } else {
        setStatus(await api<FederationAdminStatus>("POST", "/v1/federation/admin/kill", { enabled: confirm.kind === "kill" }));
        setNotice(undefined);
      }
      setConfirm(undefined);
      await reload();
    } catch (err) {
      setConfirmError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const open = (c: Confirm) => {
    setConfirmError(undefined);
    setConfirm(c);
  };

  const latencyCell = (p: PeerSummary) => {
    if (p.status !== "bonded") return "—";
    if (p.last_error?.startsWith("unreachable") || (p.latency_ms === null && p.last_error)) return <span class="badge err" data-class="unreachable">{t("federation.unreachable")}</span>;
    if (p.latency_ms === null || !p.network_class) return <span class="muted">{t("federation.notMeasured")}</span>;
    return (
      <>
        {ms(p.latency_ms)} ms <span class={`badge ${CLASS_BADGE[p.network_class]}`} data-class={p.network_class}>{t(`topology.type.${p.network_class}`)}</span>
      </>
    );
  };

  const columns: Column<PeerSummary>[] = [
    { key: "name", header: t("federation.col.name"), cell: (p) => (nameOf(p.atom_id) ? <span class="peer-name">{nameOf(p.atom_id)}</span> : <span class="muted">—</span>) },
    { key: "url", header: t("federation.col.url"), cell: (p) => <strong>{p.url}</strong> },
    { key: "atom", header: t("federation.col.atom"), cell: (p) => <code title={p.atom_id}>{shortId(p.atom_id)}</code> },
    {
      key: "trust",
      header: t("federation.col.trust"),
      cell: (p) => (
        <span class={`badge ${p.trust_level >= MIN_TRUST ? "ok" : "muted"}`} data-trust={p.trust_level}>
          {p.trust_level >= MIN_TRUST ? t("federation.trust.replicating") : t("federation.trust", { n: p.trust_level })}
        </span>
      ),
    },
    { key: "status", header: t("federation.col.status"), cell: (p) => <span class={`badge ${p.status === "bonded" ? "ok" : "muted"}`}>{t(`federation.status.${p.status}`)}</span> },
    { key: "seen", header: t("federation.col.lastSeen"), cell: (p) => <span title={p.last_seen_at ?? ""}>{relativeTime(t, p.last_seen_at, now)}</span> },
    { key: "latency", header: t("federation.col.latency"), cell: latencyCell },
    {
      key: "actions",
      header: <span class="visually-hidden">{t("federation.col.actions")}</span>,
      cell: (p) =>
        p.status !== "bonded" ? null : (
          <span style={{ display: "inline-flex", gap: "0.5rem", flexWrap: "wrap" }}>
            {p.trust_level < MIN_TRUST && (
              <button type="button" class="button primary small" id={`promote-${p.atom_id}`} aria-label={t("federation.promoteNamed", { url: hostOf(p.url) })} onClick={() => open({ kind: "promote", peer: p })}>
                {t("federation.promote")}
              </button>
            )}
            <button type="button" class="button danger small" id={`unbond-${p.atom_id}`} aria-label={t("federation.unbondNamed", { url: hostOf(p.url) })} onClick={() => open({ kind: "unbond", peer: p })}>
              {t("federation.unbond")}
            </button>
          </span>
        ),
    },
  ];

  const confirmText = (): { title: string; body: string; button: string; danger: boolean } => {
    if (!confirm) return { title: "", body: "", button: "", danger: false };
    if (confirm.kind === "promote") return { title: t("federation.promote.title", { url: confirm.peer.url }), body: t("federation.promote.body"), button: busy ? t("federation.promote.busy") : t("federation.promote.confirm"), danger: false };
    if (confirm.kind === "unbond") return { title: t("federation.unbond.title", { url: confirm.peer.url }), body: t("federation.unbond.body"), button: busy ? t("federation.unbond.busy") : t("federation.unbond.confirm"), danger: true };
    if (confirm.kind === "kill") return { title: t("federation.kill.title"), body: t("federation.kill.body"), button: t("federation.kill.confirm"), danger: true };
    return { title: t("federation.unkill.title"), body: t("federation.unkill.body"), button: t("federation.unkill.confirm"), danger: false };
  };
  const c = confirmText();

  return (
    <>
      <div class="page-head">
        <h1>{t("federation.title")}</h1>
        <div class="toolbar">
          <button type="button" class="button secondary" id="bond-open" onClick={() => setBondOpen(true)}>
            {t("federation.bond")}
          </button>
          <button type="button" class="button primary" id="token-open" onClick={() => setTokenOpen(true)}>
            {t("federation.createToken")}
          </button>
        </div>
      </div>
      <p class="lead">{t("federation.intro")}</p>
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {notice && <Notice kind="success">{notice}</Notice>}
      {status?.killed && <Notice kind="warning">{t("federation.killedNotice")}</Notice>}

      <section class="card" id="federation-identity" aria-labelledby="federation-identity-title">
        <h2 id="federation-identity-title">{t("federation.identity")}</h2>
        {status ? (
          <dl class="pairs">
            <Pair label={t("federation.poolName")}>{identity?.pool.name ? <span id="self-pool-name">{identity.pool.name}</span> : <span class="muted">{t("federation.poolNameUnset")}</span>}</Pair>
            <Pair label={t("federation.atomId")}>
              <code id="self-atom-id">{status.atom_id}</code>
            </Pair>
            <Pair label={t("federation.publicKey")}>
              <code id="self-public-key" style={{ wordBreak: "break-all" }}>{status.public_key}</code>
            </Pair>
            <Pair label={t("federation.url")}>{status.pool_url ? <code id="self-url">{status.pool_url}</code> : <span class="muted">{t("federation.urlUnset")}</span>}</Pair>
            <Pair label={t("federation.mode")}>
              <span class={`badge ${status.mode === "active" ? "ok" : status.mode === "observe" ? "warn" : "muted"}`} id="fed-mode" data-mode={status.mode}>
                {t(`federation.mode.${status.mode}`)}
              </span>
            </Pair>
            <Pair label={t("federation.gossip")}>
              <span class={`badge ${status.gossip ? "ok" : "muted"}`}>{status.gossip ? t("federation.gossip.on") : t("federation.gossip.off")}</span>
            </Pair>
            <Pair label={t("federation.killSwitch")}>
              <span class={`badge ${status.killed ? "err" : "ok"}`} id="fed-killed" data-killed={String(status.killed)}>
                {status.killed ? t("federation.killed") : t("federation.running")}
              </span>{" "}
              <button type="button" class={`button small ${status.killed ? "secondary" : "danger"}`} id="kill-toggle" onClick={() => open({ kind: status.killed ? "unkill" : "kill" })}>
                {status.killed ? t("federation.unkill") : t("federation.kill")}
              </button>
            </Pair>
            <Pair label={t("federation.sites")}>{t("federation.counts", { peers: status.peers, trusted: status.trusted_peers })}</Pair>
          </dl>
        ) : (
          !error && <p class="muted">{t("ui.loading")}</p>
        )}
      </section>

      <h2>{t("federation.sites")}</h2>
      {peers ? (
        <DataTable
          id="peers-table"
          columns={columns}
          rows={peers}
          rowKey={(p) => p.atom_id}
          empty={t("federation.empty")}
          rowProps={(p) => ({ "data-atom": p.atom_id, "data-name": nameOf(p.atom_id) ?? "", "data-url": p.url, "data-status": p.status, "data-trust": String(p.trust_level) })}
        />
      ) : (
        !error && <p class="muted">{t("ui.loading")}</p>
      )}

      <TokenModal open={tokenOpen} onClose={() => setTokenOpen(false)} />
      <BondModal
        open={bondOpen}
        onClose={() => setBondOpen(false)}
        onBonded={(peer) => {
          setBondOpen(false);
          setNotice(t("federation.bond.done", { url: peer.url }));
          void reload();
        }}
      />
      <Modal
        id="federation-confirm"
        open={!!confirm}
        title={c.title}
        onClose={() => setConfirm(undefined)}
        footer={
          <>
            <button type="button" class="button secondary" id="federation-confirm-cancel" onClick={() => setConfirm(undefined)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class={`button ${c.danger ? "danger" : "primary"}`} id="federation-confirm-ok" disabled={busy} onClick={() => void runConfirm()}>
              {c.button}
            </button>
          </>
        }
      >
        <p>{c.body}</p>
        {confirmError && <Notice kind="error">{t("ui.error", { message: confirmError })}</Notice>}
      </Modal>
    </>
  );
}

function Pair(p: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{p.label}</dt>
      <dd>{p.children}</dd>
    </>
  );
}
