/**
 * Settings → HA virtual pool (guide §4.7): enable the keepalived virtual IP, its address, this
 * host's interface and the preemption mode, with the derived priority and router id shown and
 * overridable. GET / PUT /v1/admin/vip; field errors from the pool shown inline.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, errorText } from "../../../api.js";
import { CheckboxField, SelectField, TextField } from "../../../components/Field.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { VipSettings } from "../../../../src/protocol/vip.protocol.js";

interface Form {
  enabled: boolean;
  address: string;
  iface: string;
  mode: "preempt" | "no-preempt";
  priority: string;
  routerId: string;
}

const formOf = (v: VipSettings): Form => ({ enabled: v.enabled, address: v.address ?? "", iface: v.interface ?? "", mode: v.mode, priority: v.priority?.toString() ?? "", routerId: v.router_id?.toString() ?? "" });

export function VipSection() {
  const { t } = useI18n();
  const [view, setView] = useState<VipSettings>();
  const [form, setForm] = useState<Form>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<VipSettings>("GET", "/v1/admin/vip").then(
      (v) => {
        setView(v);
        setForm(formOf(v));
      },
      (e: unknown) => setError(errorText(e, t("common.network"))),
    );
  }, []);

  const set = (patch: Partial<Form>) => {
    setSaved(false);
    setForm((f) => f && { ...f, ...patch });
  };

  const whole = (s: string): number | null | undefined => (s.trim() === "" ? null : /^\d+$/.test(s.trim()) ? Number(s) : undefined);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!form) return;
    const priority = whole(form.priority);
    const routerId = whole(form.routerId);
    const local: Record<string, string> = {};
    if (priority === undefined) local.priority = t("vip.invalid");
    if (routerId === undefined) local.router_id = t("vip.invalid");
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      const body = { enabled: form.enabled, address: form.address.trim() || null, interface: form.iface.trim() || null, mode: form.mode, priority, router_id: routerId };
      const next = await api<VipSettings>("PUT", "/v1/admin/vip", body);
      setView(next);
      setForm(formOf(next));
      setSaved(true);
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length > 0) setErrors(err.fields);
      else setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" id="settings-vip" aria-labelledby="settings-vip-h">
      <h2 id="settings-vip-h">{t("vip.title")}</h2>
      <p>{t("vip.intro")}</p>
      <p class="help">{t("vip.doctrine")}</p>
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {!form && !error && <p class="muted">{t("ui.loading")}</p>}
      {form && view && (
        <form onSubmit={(e) => void save(e)} noValidate>
          <CheckboxField id="vip-enabled" label={t("vip.enabled")} checked={form.enabled} onChange={(v) => set({ enabled: v })} />
          <div class="row">
            <TextField id="vip-address" label={t("vip.address")} help={t("vip.addressHelp")} value={form.address} error={errors.address} onInput={(v) => set({ address: v })} />
            <TextField id="vip-interface" label={t("vip.interface")} help={t("vip.interfaceHelp")} value={form.iface} error={errors.interface} onInput={(v) => set({ iface: v })} />
          </div>
          <SelectField
            id="vip-mode"
            label={t("vip.mode")}
            value={form.mode}
            onChange={(v) => set({ mode: v === "no-preempt" ? "no-preempt" : "preempt" })}
            options={[
              { value: "preempt", label: t("vip.mode.preempt") },
              { value: "no-preempt", label: t("vip.mode.no-preempt") },
            ]}
          />
          <div class="row">
            <TextField id="vip-priority" label={t("vip.priority")} help={t("vip.priorityHelp", { value: view.effective.priority })} inputMode="numeric" value={form.priority} error={errors.priority} onInput={(v) => set({ priority: v })} />
            <TextField id="vip-router-id" label={t("vip.routerId")} help={t("vip.routerIdHelp", { value: view.effective.router_id })} inputMode="numeric" value={form.routerId} error={errors.router_id} onInput={(v) => set({ routerId: v })} />
          </div>
          <p class="help" id="vip-cluster">{t("vip.cluster", { n: view.cluster_pools })}</p>
          {saved && <Notice kind="success">{t("vip.saved")}</Notice>}
          <button type="submit" class="button primary small" id="vip-save" disabled={busy}>
            {t("vip.save")}
          </button>
        </form>
      )}
    </section>
  );
}
