/**
 * Dashboard page: Projects & documents. The list (and creation) or one open project; the open
 * project is kept in the address (`?project=<id>`) so a reload or a shared link lands on it.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import type { AdminPageProps } from "./pages.js";
import { ProjectDetail } from "./projects/ProjectDetail.js";
import { ProjectList } from "./projects/ProjectList.js";
import type { Project, ProjectList as ProjectListBody } from "../../../src/protocol/projects.protocol.js";
import "./content.css";

const selectedFromUrl = () => new URLSearchParams(location.search).get("project") ?? undefined;

export function ProjectsPage(_p: AdminPageProps) {
  const { t } = useI18n();
  const [selected, setSelected] = useState<string | undefined>(selectedFromUrl);
  const [projects, setProjects] = useState<Project[]>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();

  const load = () =>
    api<ProjectListBody>("GET", "/v1/projects").then(
      (r) => setProjects(r.data),
      (err: unknown) => setError(errorText(err, t("common.network"))),
    );

  useEffect(() => {
    const onPop = () => setSelected(selectedFromUrl());
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  useEffect(() => {
    if (!selected) void load();
  }, [selected]);

  const open = (id: string | undefined, message?: string) => {
    history.pushState(null, "", id ? `/admin/projects?project=${encodeURIComponent(id)}` : "/admin/projects");
    setNotice(message);
    // The list is read again when shown: counts changed, a project may be gone.
    if (!id) setProjects(undefined);
    setSelected(id);
    scrollTo(0, 0);
  };

  return (
    <div class="content-page" id="projects-page">
      <div class="page-head">
        <h1>{t("projects.title")}</h1>
      </div>
      <p class="lead">{t("projects.intro")}</p>
      {error && <Notice kind="error">{error}</Notice>}
      {notice && <Notice kind="success">{notice}</Notice>}
      {selected ? (
        <ProjectDetail key={selected} projectId={selected} onBack={() => open(undefined)} onDeleted={(name) => open(undefined, t("projects.deleted", { name }))} />
      ) : (
        <ProjectList projects={projects} onOpen={(id) => open(id)} onCreated={(p) => open(p.id, t("projects.created", { name: p.name }))} />
      )}
    </div>
  );
}
