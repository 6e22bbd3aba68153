/** Screen 3: dormant CPU workers, GPU/NPU servers, provisioning hub; they preselect the "Add a worker" dialog's hardware. */
import { CheckboxField, TextField } from "../../components/Field.js";
import { useI18n } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";

export function HardwareStep(p: StepProps) {
  const { t } = useI18n();
  const d = p.draft.hardware;
  return (
    <div>
      <p class="help" id="hardware-feeds">
        {t("hardware.feeds")}
      </p>
      <CheckboxField id="cpu_workers_enabled" label={t("hardware.cpu")} help={t("hardware.cpuHelp")} checked={d.cpu_workers_enabled} error={p.errors.cpu_workers_enabled} onChange={(v) => p.update((x) => void (x.hardware.cpu_workers_enabled = v))} />
      <TextField id="gpu_servers" label={t("hardware.gpu")} type="number" inputMode="numeric" value={d.gpu_servers} error={p.errors.gpu_servers} onInput={(v) => p.update((x) => void (x.hardware.gpu_servers = v))} />
      <TextField
        id="provisioning_hub_url"
        label={t("hardware.hub")}
        optional={t("common.optional")}
        help={t("hardware.hubHelp")}
        type="url"
        inputMode="url"
        value={d.provisioning_hub_url}
        error={p.errors.provisioning_hub_url}
        onInput={(v) => p.update((x) => void (x.hardware.provisioning_hub_url = v))}
      />
    </div>
  );
}
