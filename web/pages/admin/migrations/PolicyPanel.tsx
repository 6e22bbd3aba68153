/**
 * The cluster's worker-movement policy (MigrationPolicy): executor, approval, latency routing,
 * balancer and the failover thresholds. Saving sends only the fields changed here
 * (PUT /v1/admin/migrations/policy with a MigrationPolicyPatch), so that two admins editing
 * different fields do not undo each other; the pool checks the ranges and its message is shown.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { CheckboxField, SelectField, TextField } from "../../../components/Field.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { FailoverPolicy, MigrationPolicy, MigrationPolicyPatch } from "../../../../src/protocol/migration.protocol.js";

const DURATIONS = ["confirm_after_s", "failing_after_s", "down_after_s", "sticky_check_s", "manual_failsafe_s"] as const;
type Duration = (typeof DURATIONS)[number];

type Draft = Omit<MigrationPolicy, "failover"> & { failover: Omit<FailoverPolicy, Duration> & Record<Duration, string> };

const draftOf = (p: MigrationPolicy): Draft => {
  const f = p.failover;
  return { ...p, failover: { mode: f.mode, confirm: f.confirm, confirm_after_s: String(f.confirm_after_s), failing_after_s: String(f.failing_after_s), down_after_s: String(f.down_after_s), sticky_check_s: String(f.sticky_check_s), manual_failsafe_s: String(f.manual_failsafe_s) } };
};

export function PolicyPanel(p: { policy: MigrationPolicy | undefined; onSaved: (policy: MigrationPolicy) => void }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState<Draft>();
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<Duration, string>>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [editing, setEditing] = useState(false);

  // A fresh policy from the pool (another admin, another pool) replaces the form unless it is being edited.
  useEffect(() => {
    if (p.policy && (!draft || !editing)) setDraft(draftOf(p.policy));
  }, [p.policy]);

  if (!p.policy || !draft) return null;
  const base = p.policy;

  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => {
    setSaved(false);
    setEditing(true);
    setDraft({ ...draft, [k]: v });
  };
  const setFailover = <K extends keyof Draft["failover"]>(k: K, v: Draft["failover"][K]) => {
    setSaved(false);
    setEditing(true);
    setDraft({ ...draft, failover: { ...draft.failover, [k]: v } });
  };

  const save = async (e: Event) => {
    e.preventDefault();
    const errs: Partial<Record<Duration, string>> = {};
    for (const d of DURATIONS) if (!/^\s*\d+\s*$/.test(draft.failover[d])) errs[d] = t("migrations.policy.wholeSeconds");
    setFieldErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      const next = await api<MigrationPolicy>("PUT", "/v1/admin/migrations/policy", patchOf(base, draft));
      setDraft(draftOf(next));
      setEditing(false);
      setSaved(true);
      p.onSaved(next);
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" id="migration-policy" aria-labelledby="migration-policy-title">
      <h2 id="migration-policy-title">{t("migrations.policy")}</h2>
      <p class="help">{t("migrations.policy.intro")}</p>
      <form id="policy-form" onSubmit={(e) => void save(e)} noValidate>
        {error && (
          <div id="policy-error">
            <Notice kind="error">{t("ui.error", { message: error })}</Notice>
          </div>
        )}
        {saved && (
          <div id="policy-saved">
            <Notice kind="success">{t("migrations.policy.saved")}</Notice>
          </div>
        )}
        <div class="row">
          <CheckboxField id="policy-executor" label={t("migrations.policy.executor")} help={t("migrations.policy.executorHelp")} checked={draft.executor_loop_enabled} onChange={(v) => set("executor_loop_enabled", v)} />
          <SelectField
            id="policy-approval"
            label={t("migrations.policy.approval")}
            help={t("migrations.policy.approvalHelp")}
            value={draft.approval}
            onChange={(v) => set("approval", v as Draft["approval"])}
            options={(["auto", "manual"] as const).map((v) => ({ value: v, label: t(`migrations.policy.approval.${v}`) }))}
          />
        </div>
        <div class="row">
          <CheckboxField id="policy-latency" label={t("migrations.policy.latency")} help={t("migrations.policy.latencyHelp")} checked={draft.latency_routing} onChange={(v) => set("latency_routing", v)} />
          <CheckboxField id="policy-balancer" label={t("migrations.policy.balancer")} help={t("migrations.policy.balancerHelp")} checked={draft.balancer_enabled} onChange={(v) => set("balancer_enabled", v)} />
        </div>
        <h3 class="sub">{t("migrations.policy.failover")}</h3>
        <div class="row">
          <SelectField
            id="policy-mode"
            label={t("migrations.policy.mode")}
            help={t("migrations.policy.modeHelp")}
            value={draft.failover.mode}
            onChange={(v) => setFailover("mode", v as FailoverPolicy["mode"])}
            options={(["auto", "manual"] as const).map((v) => ({ value: v, label: t(`migrations.policy.mode.${v}`) }))}
          />
          <CheckboxField id="policy-confirm" label={t("migrations.policy.confirm")} help={t("migrations.policy.confirmHelp")} checked={draft.failover.confirm} onChange={(v) => setFailover("confirm", v)} />
        </div>
        <div class="row">
          {DURATIONS.map((d) => (
            <TextField key={d} id={`policy-${d}`} type="number" inputMode="numeric" label={t(`migrations.policy.${d}`)} value={draft.failover[d]} error={fieldErrors[d]} onInput={(v) => setFailover(d, v)} />
          ))}
        </div>
        <p class="help">{t("migrations.policy.durationsHelp")}</p>
        <div class="actions">
          <button type="submit" class="button primary" id="policy-save" disabled={busy}>
            {busy ? t("ui.saving") : t("migrations.policy.save")}
          </button>
        </div>
      </form>
    </section>
  );
}

/** The fields of `draft` that differ from `base` (durations as numbers). */
function patchOf(base: MigrationPolicy, draft: Draft): MigrationPolicyPatch {
  const patch: MigrationPolicyPatch = {};
  if (draft.executor_loop_enabled !== base.executor_loop_enabled) patch.executor_loop_enabled = draft.executor_loop_enabled;
  if (draft.approval !== base.approval) patch.approval = draft.approval;
  if (draft.latency_routing !== base.latency_routing) patch.latency_routing = draft.latency_routing;
  if (draft.balancer_enabled !== base.balancer_enabled) patch.balancer_enabled = draft.balancer_enabled;
  const failover: NonNullable<MigrationPolicyPatch["failover"]> = {};
  if (draft.failover.mode !== base.failover.mode) failover.mode = draft.failover.mode;
  if (draft.failover.confirm !== base.failover.confirm) failover.confirm = draft.failover.confirm;
  for (const d of DURATIONS) {
    const n = Number(draft.failover[d]);
    if (n !== base.failover[d]) failover[d] = n;
  }
  if (Object.keys(failover).length) patch.failover = failover;
  return patch;
}

