/**
 * Issue 21, employee desktops that yield to their owner, with real processes: a pool, a server
 * worker and a `--desktop` worker (both stories260K), the desktop's signals driven through its
 * signals file (CELLULE_DESKTOP_SIGNALS_FILE).
 *
 * - Owner returns mid-stream: the desktop (2 slots, so it is picked first) is paused (SIGSTOP)
 *   right after the answer's first text, its signals file says "input now", and it is let go on
 *   (SIGCONT): within 1 s of the file write the pool moves the job (its log line), the server
 *   worker finishes it as a continuation, and the client gets one whole answer, no error.
 * - Outside the site's allowed hours (a schedule set through the admin API): no job on the desktop.
 * - On battery: no job on the desktop. Dormant again: jobs again.
 * - The harvest API then shows the desktop's dormant seconds and tokens.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminLogin, type AdminSession } from "./admin-http.js";
import { killAll, MODEL_ID, startPool, startWorker, tempDir, waitFor, type PoolProc, type WorkerProc } from "./helpers.js";

const SITE = "HQ";
const DORMANT = { idleSeconds: 3600, otherCpuPercent: 0, onBattery: false };
const OWNER_BACK = { idleSeconds: 0, otherCpuPercent: 0, onBattery: false };
const BATTERY = { idleSeconds: 3600, otherCpuPercent: 0, onBattery: true };

let pool: PoolProc;
let server: WorkerProc;
let desktop: WorkerProc;
let key: string;
let admin: AdminSession;
let signalsFile: string;

const writeSignals = (s: object) => writeFileSync(signalsFile, JSON.stringify(s));

interface WorkerView {
  id: string;
  name: string;
  desktop?: boolean;
  desktop_state?: string | null;
}

async function adminGet<T>(path: string): Promise<T> {
  const r = await fetch(`${pool.url}${path}`, { headers: { cookie: admin.cookie } });
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function adminPut(path: string, body: unknown): Promise<number> {
  const r = await fetch(`${pool.url}${path}`, { method: "PUT", headers: { cookie: admin.cookie, "x-csrf-token": admin.csrf, "content-type": "application/json" }, body: JSON.stringify(body) });
  await r.arrayBuffer();
  return r.status;
}

const desktopState = async () => (await adminGet<{ data: WorkerView[] }>("/v1/admin/workers")).data.find((w) => w.desktop)?.desktop_state ?? null;
const waitState = (state: string) => waitFor(async () => (await desktopState()) === state, `the desktop to report ${state}`, 10_000);

/** Pino JSON lines of a process containing `fragment`. */
function logLines(p: { output(): string }, fragment: string): Record<string, unknown>[] {
  return p
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes(fragment))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const jobsDone = (w: WorkerProc) => logLines(w, "generate job done").length;

async function chat(maxTokens = 8): Promise<void> {
  const r = await fetch(`${pool.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Hello" }], max_tokens: maxTokens }),
  });
  expect(r.status).toBe(200);
  await r.arrayBuffer();
}

/** Three chats one after the other: how many each worker ran. */
async function threeChats(): Promise<{ desktop: number; server: number }> {
  const [d0, s0] = [jobsDone(desktop), jobsDone(server)];
  for (let i = 0; i < 3; i++) await chat();
  await waitFor(() => jobsDone(desktop) + jobsDone(server) >= d0 + s0 + 3, "the workers to log their jobs", 5000);
  return { desktop: jobsDone(desktop) - d0, server: jobsDone(server) - s0 };
}

beforeAll(async () => {
  signalsFile = join(tempDir("cellule-desktop-"), "signals.json");
  writeSignals(DORMANT);
  pool = await startPool({ env: { CELLULE_LOG_LEVEL: "info" } });
  key = await pool.createKey();
  admin = await adminLogin(pool.url);
  server = await startWorker(pool, { slots: 1 });
  // Two slots: with both workers free it has more free slots, so it is picked first.
  desktop = await startWorker(pool, { slots: 2, args: ["--desktop", "--site", SITE], env: { CELLULE_DESKTOP_SIGNALS_FILE: signalsFile, CELLULE_LOG_LEVEL: "debug" } });
  await waitState("dormant");
}, 180_000);

afterAll(async () => {
  await killAll();
});

describe("a desktop worker yields to its owner", () => {
  it("owner returns mid-stream: the job moves to the server worker within 1 s and the client's answer is whole", async () => {
    let raw = "";
    let firstText: () => void = () => {};
    const first = new Promise<void>((r) => (firstText = r));
    const done = (async () => {
      const r = await fetch(`${pool.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Tell me a long story about a little girl and her dog." }], max_tokens: 400, seed: 5, temperature: 0.8, stream: true }),
      });
      expect(r.status).toBe(200);
      const reader = r.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        raw += decoder.decode(value, { stream: true });
        if (raw.includes('"content":"')) firstText();
      }
    })();
    await Promise.race([first, done.then(() => Promise.reject(new Error(`the stream ended before its first text: ${raw}`)))]);
    desktop.proc.kill("SIGSTOP");
    const startedOnDesktop = logLines(desktop, "generate job started").length;
    const writtenAt = Date.now();
    writeSignals(OWNER_BACK);
    desktop.proc.kill("SIGCONT");
    await done;

    expect(startedOnDesktop).toBeGreaterThan(0);
    const moves = logLines(pool, "job moved to another worker");
    expect(moves).toHaveLength(1);
    const jobId = moves[0]!.jobId as string;
    expect((moves[0]!.time as number) - writtenAt).toBeLessThan(1000);
    // The server worker finished it (a continuation of the same job).
    await waitFor(() => logLines(server, "generate job done").some((l) => l.jobId === jobId), "the server worker to log the moved job");
    const events = raw.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
    expect(events.filter((e) => e === "[DONE]")).toHaveLength(1);
    expect(raw).not.toContain('"error"');
    const parsed = events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e) as { id: string; choices: { delta?: { content?: string }; finish_reason?: string | null }[] });
    expect(new Set(parsed.map((p) => p.id)).size).toBe(1);
    const text = parsed.map((p) => p.choices[0]?.delta?.content ?? "").join("");
    expect(text.length).toBeGreaterThan(20);
    expect(parsed.some((p) => p.choices[0]?.finish_reason)).toBe(true);
    await waitState("owner_active");
  }, 60_000);

  it("outside the site's allowed hours: the desktop gets no job", async () => {
    const h = new Date().getHours();
    const hh = (n: number) => `${String(n % 24).padStart(2, "0")}:00`;
    // One hour, two hours from now: never now, whatever the day.
    expect(await adminPut(`/v1/admin/desktops/schedules/${SITE}`, { schedule: { windows: [{ start: hh(h + 2), end: hh(h + 3) }], weekends: false } })).toBe(200);
    writeSignals(DORMANT);
    await waitState("outside_hours");
    expect(await threeChats()).toEqual({ desktop: 0, server: 3 });
  }, 60_000);

  it("on battery: the desktop gets no job; dormant again: it gets jobs again", async () => {
    expect(await adminPut(`/v1/admin/desktops/schedules/${SITE}`, { schedule: null })).toBe(200);
    writeSignals(BATTERY);
    await waitState("on_battery");
    expect(await threeChats()).toEqual({ desktop: 0, server: 3 });
    writeSignals(DORMANT);
    await waitState("dormant");
    // Free, with two slots against the server's one: the first of them goes to the desktop.
    expect((await threeChats()).desktop).toBeGreaterThan(0);
  }, 60_000);

  it("the harvest shows the desktop's dormant seconds and tokens, per desktop and per site", async () => {
    // Dormant since the previous test: at least a second of it.
    await new Promise((r) => setTimeout(r, 1000));
    const view = await adminGet<{ desktops: { name: string; site: string | null; dormant_seconds: number; tokens: number; state: string | null }[]; sites: { site: string | null; dormant_seconds: number; tokens: number }[]; totals: { dormant_seconds: number; tokens: number } }>(
      "/v1/admin/desktops/harvest?days=30",
    );
    expect(view.desktops).toHaveLength(1);
    const d = view.desktops[0]!;
    expect(d.dormant_seconds).toBeGreaterThanOrEqual(1);
    expect(d.tokens).toBeGreaterThan(0);
    expect(d.state).toBe("dormant");
    expect(view.sites).toEqual([{ site: SITE, desktops: 1, dormant_seconds: d.dormant_seconds, tokens: d.tokens }]);
    expect(view.totals).toEqual({ dormant_seconds: d.dormant_seconds, tokens: d.tokens });
  });
});
