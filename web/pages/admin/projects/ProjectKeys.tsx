/**
 * Keys confined to one project: create one (shown once, in a copy block with a warning) and list
 * the existing ones from the admin key list (names and dates only, never the key).
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { CopyBlock } from "../../../components/CopyBlock.js";
import { dateTime, relativeTime } from "../../../components/format.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { KeyList, KeySummary } from "../../../../src/protocol/admin.protocol.js";
import type { CreatedProjectKey } from "../../../../src/protocol/projects.protocol.js";

export function ProjectKeys(p: { projectId: string }) {
  const { t, lang } = useI18n();
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ name: string; key: string }>();
  const [error, setError] = useState<string>();
  const [keys, setKeys] = useState<KeySummary[]>();

  const load = () =>
    api<KeyList>("GET", "/v1/admin/keys").then(
      (r) => setKeys(r.data.filter((k) => k.project_id === p.projectId)),
      () => setKeys(undefined),
    );
  useEffect(() => void load(), [p.projectId]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const k = await api<CreatedProjectKey>("POST", `/v1/projects/${encodeURIComponent(p.projectId)}/keys`, name.trim() ? { name: name.trim() } : {});
      setCreated({ name: k.name, key: k.key });
      setName("");
      void load();
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="project-keys-title">
      <h2 id="project-keys-title">{t("projects.keys")}</h2>
      <p class="help">{t("projects.keysHelp")}</p>
      {keys && keys.length > 0 && (
        <ul class="plain-list" id="project-keys-list">
          {keys.map((k) => (
            <li key={k.id}>
              <strong>{k.name}</strong> <span class="muted">· {dateTime(lang, k.created_at)} · {relativeTime(t, k.last_used_at)}</span>
              {k.revoked_at && <span class="badge err">{t("keys.revoked")}</span>}
            </li>
          ))}
        </ul>
      )}
      {created && (
        <div class="once" id="project-key-created">
          <Notice kind="warning">{t("projects.keyCreated", { name: created.name })}</Notice>
          <CopyBlock id="project-key-value" title={created.name} text={created.key} />
        </div>
      )}
      <form class="toolbar" onSubmit={(e) => void submit(e)}>
        <label for="project-key-name">{t("projects.keyName")}</label>
        <input id="project-key-name" type="text" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" class="button primary" id="project-key-create" disabled={busy}>
          {t("projects.keyCreate")}
        </button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  );
}
