/** Screen 6: the administrator account. The password stays in this component's state only. */
import { CheckboxField, TextField } from "../../components/Field.js";
import { useI18n } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";

export interface Secret {
  password: string;
  confirm: string;
  show: boolean;
}

export function AdminStep(p: StepProps & { secret: Secret; setSecret: (s: Secret) => void }) {
  const { t } = useI18n();
  const min = p.server.limits?.password_min ?? 12;
  const max = p.server.limits?.password_max ?? 128;
  const type = p.secret.show ? "text" : "password";
  return (
    <div>
      <TextField id="email" label={t("admin.email")} type="email" inputMode="email" autoComplete="username" value={p.draft.admin.email} error={p.errors.email} onInput={(v) => p.update((d) => void (d.admin.email = v))} />
      {p.server.admin_password_set && <p class="help">{t("admin.passwordSaved")}</p>}
      <TextField id="password" label={t("admin.password")} type={type} autoComplete="new-password" help={t("admin.passwordHelp", { min, max })} value={p.secret.password} error={p.errors.password} onInput={(v) => p.setSecret({ ...p.secret, password: v })} />
      <TextField id="confirm" label={t("admin.confirm")} type={type} autoComplete="new-password" value={p.secret.confirm} error={p.errors.confirm} onInput={(v) => p.setSecret({ ...p.secret, confirm: v })} />
      <CheckboxField id="show-password" label={t("admin.show")} checked={p.secret.show} onChange={(v) => p.setSecret({ ...p.secret, show: v })} />
    </div>
  );
}
