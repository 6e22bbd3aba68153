/**
 * Dashboard page: API keys & users. Keys: list (never a secret), create (shown once), revoke
 * (confirmed). Administrator accounts: list, add (the wizard's password policy, errors inline),
 * delete (not yourself).
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, errorText } from "../../api.js";
import { CopyBlock } from "../../components/CopyBlock.js";
import { DataTable } from "../../components/DataTable.js";
import { SelectField, TextField } from "../../components/Field.js";
import { dateTime, relativeTime } from "../../components/format.js";
import { Modal } from "../../components/Modal.js";
import { Notice } from "../../components/Shell.js";
import { codeText, useI18n } from "../../i18n/index.js";
import type { AdminUserList, AdminUserSummary, CreatedAdminUser, CreatedKey, KeyList, KeySummary } from "../../../src/protocol/admin.protocol.js";
import type { AdminPageProps } from "./pages.js";
import "./content.css";

export function KeysPage(_p: AdminPageProps) {
  const { t } = useI18n();
  return (
    <div class="content-page" id="keys-page">
      <div class="page-head">
        <h1>{t("keys.title")}</h1>
      </div>
      <p class="lead">{t("keys.intro")}</p>
      <KeysPanel />
      <UsersPanel />
    </div>
  );
}

function KeysPanel() {
  const { t, lang } = useI18n();
  const [keys, setKeys] = useState<KeySummary[]>();
  const [error, setError] = useState<string>();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<"user" | "admin">("user");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ name: string; key: string }>();
  const [toRevoke, setToRevoke] = useState<KeySummary>();

  const load = () => api<KeyList>("GET", "/v1/admin/keys").then((r) => setKeys(r.data), (err: unknown) => setError(errorText(err, t("common.network"))));
  useEffect(() => void load(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const k = await api<CreatedKey>("POST", "/v1/admin/keys", { name: name.trim() || "default", scope });
      setCreated({ name: k.name, key: k.key });
      setName("");
      await load();
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (k: KeySummary) => {
    setBusy(true);
    try {
      await api("DELETE", `/v1/admin/keys/${encodeURIComponent(k.id)}`);
      setToRevoke(undefined);
      await load();
    } catch (err) {
      setToRevoke(undefined);
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="keys-title">
      <h2 id="keys-title">{t("keys.keys")}</h2>
      {error && <Notice kind="error">{error}</Notice>}
      {created && (
        <div class="once" id="key-created">
          <Notice kind="warning">{t("keys.created", { name: created.name })}</Notice>
          <CopyBlock id="key-value" title={created.name} text={created.key} />
        </div>
      )}
      {!keys ? (
        <p class="muted">{t("ui.loading")}</p>
      ) : (
        <DataTable
          id="keys-table"
          rows={keys}
          rowKey={(k) => k.id}
          rowProps={(k) => ({ "data-name": k.name, "data-revoked": k.revoked_at ? "true" : "false" })}
          empty={t("keys.none")}
          columns={[
            { key: "name", header: t("keys.col.name"), cell: (k) => <strong>{k.name}</strong> },
            { key: "scope", header: t("keys.col.scope"), cell: (k) => <span class={`badge${k.scope === "admin" ? " warn" : ""}`}>{t(`keys.scope.${k.scope}`)}</span> },
            { key: "project", header: t("keys.col.project"), cell: (k) => (k.project_id ? <code>{k.project_id}</code> : <span class="muted">—</span>) },
            { key: "created", header: t("keys.col.created"), cell: (k) => dateTime(lang, k.created_at) },
            { key: "last_used", header: t("keys.col.lastUsed"), cell: (k) => relativeTime(t, k.last_used_at) },
            {
              key: "status",
              header: t("keys.col.status"),
              cell: (k) => (k.revoked_at ? <span class="badge err" title={dateTime(lang, k.revoked_at)}>{t("keys.revoked")}</span> : <span class="badge ok">{t("keys.active")}</span>),
            },
            {
              key: "actions",
              header: <span class="visually-hidden">{t("keys.revoke")}</span>,
              cell: (k) =>
                k.revoked_at ? null : (
                  <button type="button" class="button secondary small" aria-label={`${t("keys.revoke")} ${k.name}`} onClick={() => setToRevoke(k)}>
                    {t("keys.revoke")}
                  </button>
                ),
            },
          ]}
        />
      )}
      <h3 class="sub">{t("keys.create")}</h3>
      <form id="key-create" onSubmit={(e) => void create(e)}>
        <div class="row">
          <TextField id="key-name" label={t("keys.name")} value={name} onInput={setName} />
          <SelectField
            id="key-scope"
            label={t("keys.scope")}
            help={t("keys.scopeHelp")}
            value={scope}
            onChange={(v) => setScope(v as "user" | "admin")}
            options={[
              { value: "user", label: t("keys.scope.user") },
              { value: "admin", label: t("keys.scope.admin") },
            ]}
          />
        </div>
        <div class="actions">
          <button type="submit" class="button primary" id="key-create-submit" disabled={busy}>
            {busy ? t("keys.creating") : t("keys.create")}
          </button>
        </div>
      </form>
      <Modal
        id="key-revoke-modal"
        open={toRevoke !== undefined}
        title={t("keys.revokeTitle", { name: toRevoke?.name ?? "" })}
        onClose={() => setToRevoke(undefined)}
        footer={
          <>
            <button type="button" class="button secondary" onClick={() => setToRevoke(undefined)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class="button danger" id="key-revoke-confirm" disabled={busy} onClick={() => toRevoke && void revoke(toRevoke)}>
              {busy ? t("keys.revoking") : t("keys.revoke")}
            </button>
          </>
        }
      >
        <p>{t("keys.revokeBody")}</p>
      </Modal>
    </section>
  );
}

function UsersPanel() {
  const { t, lang } = useI18n();
  const [users, setUsers] = useState<AdminUserSummary[]>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [fieldErrors, setFieldErrors] = useState<{ email?: string; password?: string }>({});
  const [busy, setBusy] = useState(false);
  const [toDelete, setToDelete] = useState<AdminUserSummary>();

  const load = () => api<AdminUserList>("GET", "/v1/admin/users").then((r) => setUsers(r.data), (err: unknown) => setError(errorText(err, t("common.network"))));
  useEffect(() => void load(), []);

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    setFieldErrors({});
    try {
      const u = await api<CreatedAdminUser>("POST", "/v1/admin/users", { email: email.trim(), password });
      setNotice(t("users.added", { email: u.email }));
      setEmail("");
      setPassword("");
      await load();
    } catch (err) {
      if (err instanceof ApiError && (err.status === 400 || err.status === 409)) {
        const code = err.code;
        if (err.is("email_taken")) setFieldErrors({ email: t("users.email_taken") });
        else if (code.startsWith("password_")) setFieldErrors({ password: codeText(t, code, err.message) });
        else if (code.includes("email")) setFieldErrors({ email: codeText(t, code, err.message) });
        else setError(err.message);
      } else setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (u: AdminUserSummary) => {
    try {
      await api("DELETE", `/v1/admin/users/${encodeURIComponent(u.id)}`);
      await load();
    } catch (err) {
      setError(errorText(err, t("common.network")));
    }
    setToDelete(undefined);
  };

  return (
    <section class="card" aria-labelledby="users-title">
      <h2 id="users-title">{t("users.title")}</h2>
      {error && <Notice kind="error">{error}</Notice>}
      {notice && <Notice kind="success">{notice}</Notice>}
      {!users ? (
        <p class="muted">{t("ui.loading")}</p>
      ) : (
        <DataTable
          id="users-table"
          rows={users}
          rowKey={(u) => u.id}
          rowProps={(u) => ({ "data-email": u.email })}
          empty={t("users.none")}
          columns={[
            {
              key: "email",
              header: t("users.col.email"),
              cell: (u) => (
                <>
                  {u.email} {u.is_self && <span class="badge muted">{t("users.you")}</span>}
                </>
              ),
            },
            { key: "created", header: t("users.col.created"), cell: (u) => dateTime(lang, u.created_at) },
            { key: "last_login", header: t("users.col.lastLogin"), cell: (u) => relativeTime(t, u.last_login_at) },
            {
              key: "actions",
              header: <span class="visually-hidden">{t("users.delete")}</span>,
              cell: (u) => (
                <button
                  type="button"
                  class="button secondary small"
                  disabled={u.is_self}
                  title={u.is_self ? t("users.deleteSelf") : undefined}
                  aria-label={`${t("users.delete")} ${u.email}`}
                  onClick={() => setToDelete(u)}
                >
                  {t("users.delete")}
                </button>
              ),
            },
          ]}
        />
      )}
      <h3 class="sub">{t("users.add")}</h3>
      <form id="user-add" onSubmit={(e) => void add(e)} noValidate>
        <div class="row">
          <TextField
            id="user-email"
            type="email"
            label={t("users.email")}
            autoComplete="off"
            value={email}
            error={fieldErrors.email}
            onInput={(v) => {
              setEmail(v);
              setFieldErrors((f) => ({ ...f, email: undefined }));
            }}
          />
          <TextField
            id="user-password"
            type="password"
            label={t("users.password")}
            help={t("users.passwordHelp")}
            autoComplete="new-password"
            value={password}
            error={fieldErrors.password}
            onInput={(v) => {
              setPassword(v);
              setFieldErrors((f) => ({ ...f, password: undefined }));
            }}
          />
        </div>
        <div class="actions">
          <button type="submit" class="button primary" id="user-add-submit" disabled={busy}>
            {busy ? t("users.adding") : t("users.add")}
          </button>
        </div>
      </form>
      <Modal
        id="user-delete-modal"
        open={toDelete !== undefined}
        title={t("users.deleteTitle", { email: toDelete?.email ?? "" })}
        onClose={() => setToDelete(undefined)}
        footer={
          <>
            <button type="button" class="button secondary" onClick={() => setToDelete(undefined)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class="button danger" id="user-delete-confirm" onClick={() => toDelete && void remove(toDelete)}>
              {t("users.delete")}
            </button>
          </>
        }
      >
        <p>{t("users.deleteBody")}</p>
      </Modal>
    </section>
  );
}
