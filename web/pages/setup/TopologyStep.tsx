/** Screen 2: sites and branches (at least one), with the 2-pools-per-site advice; the network's HA virtual pool (guide §4.7.2). */
import { CheckboxField, SelectField, TextField } from "../../components/Field.js";
import { useI18n } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";
import { emptyHaVip, type HaVipDraft } from "./wizard-state.js";

export function TopologyStep(p: StepProps) {
  const { t } = useI18n();
  const sites = p.draft.topology.sites;
  return (
    <div>
      <p>{t("topology.intro")}</p>
      {p.errors.sites && (
        <p class="error" role="alert">
          {p.errors.sites}
        </p>
      )}
      {sites.map((s, i) => (
        <fieldset class="site" key={i}>
          <legend>{t("topology.site", { n: i + 1 })}</legend>
          <div class="row">
            <TextField id={`sites.${i}.name`} label={t("topology.siteName")} value={s.name} error={p.errors[`sites.${i}.name`]} onInput={(v) => p.update((d) => void (d.topology.sites[i]!.name = v))} />
            <TextField
              id={`sites.${i}.pools`}
              label={t("topology.pools")}
              type="number"
              inputMode="numeric"
              value={s.pools}
              error={p.errors[`sites.${i}.pools`]}
              onInput={(v) => p.update((d) => void (d.topology.sites[i]!.pools = v))}
            />
          </div>
          {Number(s.pools) > 0 && Number(s.pools) < 2 && <p class="advice">{t("topology.advice")}</p>}
          {sites.length > 1 && (
            <button type="button" class="button secondary small" onClick={() => p.update((d) => void d.topology.sites.splice(i, 1))}>
              {t("topology.remove", { n: i + 1 })}
            </button>
          )}
        </fieldset>
      ))}
      <button type="button" class="button secondary" onClick={() => p.update((d) => void d.topology.sites.push({ name: "", pools: "2" }))}>
        {t("topology.add")}
      </button>
      <HaVipFields {...p} />
    </div>
  );
}

/** Network → Enable HA virtual pool: the VIP, this host's interface and the preemption mode (saved as the pool's VIP settings at completion). */
function HaVipFields(p: StepProps) {
  const { t } = useI18n();
  const v = p.draft.topology.vip ?? emptyHaVip();
  const set = (patch: Partial<HaVipDraft>) => p.update((d) => void (d.topology.vip = { ...(d.topology.vip ?? emptyHaVip()), ...patch }));
  return (
    <fieldset class="site" id="ha-vip">
      <legend>{t("vip.title")}</legend>
      <p class="help">{t("vip.intro")}</p>
      <CheckboxField id="ha_vip.enabled" label={t("vip.enabled")} help={t("vip.doctrine")} checked={v.enabled} onChange={(enabled) => set({ enabled })} />
      {v.enabled && (
        <>
          <div class="row">
            <TextField id="ha_vip.address" label={t("vip.address")} help={t("vip.addressHelp")} value={v.address} error={p.errors["ha_vip.address"]} onInput={(address) => set({ address })} />
            <TextField id="ha_vip.interface" label={t("vip.interface")} help={t("vip.interfaceHelp")} value={v.iface} error={p.errors["ha_vip.interface"]} onInput={(iface) => set({ iface })} />
          </div>
          <SelectField
            id="ha_vip.mode"
            label={t("vip.mode")}
            value={v.mode}
            onChange={(m) => set({ mode: m === "no-preempt" ? "no-preempt" : "preempt" })}
            options={[
              { value: "preempt", label: t("vip.mode.preempt") },
              { value: "no-preempt", label: t("vip.mode.no-preempt") },
            ]}
          />
        </>
      )}
    </fieldset>
  );
}
