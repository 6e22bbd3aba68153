/** Search box over the project's documents; each hit cites its document, page and score. */
import { useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { SearchResponse } from "../../../../src/protocol/projects.protocol.js";

/** The pool marks matched words as **word**; shown as <mark> without any HTML injection. */
function Snippet(p: { text: string }) {
  const parts = p.text.split("**");
  return <>{parts.map((s, i) => (i % 2 === 1 ? <mark key={i}>{s}</mark> : s))}</>;
}

export function SearchPanel(p: { projectId: string }) {
  const { t, lang } = useI18n();
  const [query, setQuery] = useState("");
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<SearchResponse>();
  const [error, setError] = useState<string>();

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!query.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      setAnswer(await api<SearchResponse>("POST", `/v1/projects/${encodeURIComponent(p.projectId)}/search`, { query: query.trim(), k: 10 }));
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="search-title">
      <h2 id="search-title">{t("projects.search")}</h2>
      <form class="toolbar" role="search" onSubmit={(e) => void submit(e)}>
        <label for="search-query">{t("projects.searchLabel")}</label>
        <input id="search-query" type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} class="grow" />
        <button type="submit" class="button primary" id="search-submit" disabled={busy || !query.trim()}>
          {busy ? t("projects.searching") : t("projects.searchGo")}
        </button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {answer && (
        <div id="search-results" aria-live="polite">
          <p class="help">{t(answer.mode === "hybrid" ? "projects.modeHybrid" : "projects.modeFulltext")}</p>
          {answer.data.length === 0 ? (
            <p class="empty">{t("projects.noResults")}</p>
          ) : (
            <ol class="hits">
              {answer.data.map((h) => (
                <li key={h.chunk_id} class="hit" data-document={h.document_name}>
                  <p class="hit-snippet">
                    <Snippet text={h.snippet} />
                  </p>
                  <p class="hit-cite">
                    <span class="badge">{h.document_name}</span>
                    {h.page !== null && <span class="muted"> · {t("projects.result.page", { page: h.page })}</span>}
                    {h.heading && <span class="muted"> · {h.heading}</span>}
                    <span class="muted"> · {t("projects.result.score", { score: h.score.toLocaleString(lang === "fr" ? "fr-FR" : "en-GB", { maximumFractionDigits: 4 }) })}</span>
                  </p>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </section>
  );
}
