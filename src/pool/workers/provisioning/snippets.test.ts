import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ProvisioningFile } from "../../../protocol/provisioning.protocol.js";
import { fill, MODEL_CACHE_DIR, renderSnippets, sections, type SnippetInput } from "./snippets.js";

const CODE = "enrol_0123456789ab_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef";
const base: SnippetInput = { os: "linux", hardware: "cpu", code: CODE, poolUrl: "http://pool.lan:18080", site: "Lyon", version: "9.8.7" };

const file = (files: ProvisioningFile[], name: string) => {
  const f = files.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} in ${files.map((x) => x.name).join(", ")}`);
  return f.content;
};

const scratch: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "cellule-snippets-"));
  scratch.push(d);
  return d;
};
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** `sh -n` (and dash, the strictest POSIX shell here) parse the script without running it. */
function syntaxCheck(script: string): void {
  const path = join(tmp(), "script.sh");
  writeFileSync(path, script);
  for (const shell of ["sh", "dash"]) {
    const r = spawnSync(shell, ["-n", path], { encoding: "utf8" });
    expect(r.status, `${shell} -n: ${r.stderr}`).toBe(0);
  }
}

describe("renderSnippets", () => {
  for (const os of ["linux", "macos", "windows"] as const) {
    for (const hardware of ["cpu", "gpu"] as const) {
      it(`renders config.json and both scripts for ${os}/${hardware}`, () => {
        const files = renderSnippets({ ...base, os, hardware });
        const ext = os === "windows" ? "ps1" : "sh";
        expect(files.map((f) => f.name)).toEqual(["config.json", `install.${ext}`, `start.${ext}`]);

        const config = JSON.parse(file(files, "config.json")) as Record<string, unknown>;
        // No model path: auto mode, the pool assigns the models and they land in the install folder's models/.
        expect(config).toEqual({ pool: "http://pool.lan:18080", token: CODE, modelCache: MODEL_CACHE_DIR, slots: hardware === "gpu" ? 2 : 1, gpu: hardware === "gpu" ? "auto" : "off", site: "Lyon" });

        for (const f of files.slice(1)) {
          expect(f.content, f.name).not.toMatch(/\{\{\w+\}\}/);
          expect(f.content, f.name).not.toMatch(/# @(if|endif)/);
          // The install script embeds the same config.json; the start script holds no secret.
          if (f.name.startsWith("install")) expect(f.content).toContain(CODE);
          else expect(f.content).not.toContain(CODE);
        }
        if (os !== "windows") {
          syntaxCheck(file(files, "install.sh"));
          syntaxCheck(file(files, "start.sh"));
        }
      });
    }
  }

  it("Linux: the worker service through `cellule service install` (one unit text, appliance/systemd) for the user cellule; useradd, no launchd", () => {
    const files = renderSnippets(base);
    const start = file(files, "start.sh");
    expect(start).toMatch(/^SERVICE_USER=cellule$/m);
    expect(start).toMatch(/^ {2}"\$BIN" service install worker --config "\$CONFIG" --home "\$CELLULE_HOME" --bin "\$BIN" --user "\$SERVICE_USER"$/m);
    // The unit text itself is not duplicated in the script.
    expect(start).not.toContain("ExecStart=");
    expect(start).not.toContain("[Service]");
    expect(start).toContain("--foreground");
    expect(start).not.toContain("launchctl");
    const install = file(files, "install.sh");
    expect(install).toMatch(/^set -eu$/m);
    expect(install).toContain("useradd --system");
    expect(install).not.toContain("dscl");
    expect(install).toContain('npm install -g --prefix "$CELLULE_HOME" "$PACKAGE"');
    expect(install).toContain('PACKAGE="${CELLULE_PACKAGE:-cellule@9.8.7}"');
    expect(install.match(/^say "\[\d\/4\]/gm)).toHaveLength(4);
  });

  it("macOS: a launchd daemon with UserName and KeepAlive on failure, bootstrapped; dscl user, no systemd", () => {
    const files = renderSnippets({ ...base, os: "macos" });
    const start = file(files, "start.sh");
    expect(start).toContain("/Library/LaunchDaemons/$LABEL.plist");
    expect(start).toContain("<key>UserName</key><string>$SERVICE_USER</string>");
    expect(start).toMatch(/<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key><false\/>/);
    expect(start).toContain('launchctl bootstrap system "$PLIST"');
    expect(start).not.toContain("systemctl");
    const install = file(files, "install.sh");
    expect(install).toContain("dscl . -create");
    expect(install).not.toContain("useradd");
  });

  it("Windows: a startup task as the local user cellule with restart on failure, -Foreground, CRLF, the config in a literal here-string", () => {
    const files = renderSnippets({ ...base, os: "windows", hardware: "gpu", name: "ws-01" });
    const start = file(files, "start.ps1");
    const install = file(files, "install.ps1");
    for (const s of [start, install]) {
      expect(s).not.toMatch(/[^\r]\n/);
      expect(s).toContain("$ErrorActionPreference = 'Stop'");
    }
    expect(start).toContain("param([switch]$Foreground)");
    expect(start).toContain("New-ScheduledTaskTrigger -AtStartup");
    expect(start).toMatch(/New-ScheduledTaskSettingsSet -RestartCount \d+ -RestartInterval \(New-TimeSpan -Minutes 1\) -ExecutionTimeLimit \(\[TimeSpan\]::Zero\)/);
    expect(start).toContain('Register-ScheduledTask -TaskName $TaskName -Action $Action -Trigger $Trigger -Settings $Settings -User "$env:COMPUTERNAME\\$ServiceUser"');
    expect(start).toContain("SeBatchLogonRight");
    expect(start).toContain("& $Bin worker --config $Config");
    expect(install).toContain("New-LocalUser -Name $ServiceUser");
    expect(install).toContain("npm install -g --prefix $CelluleHome $Package");
    expect(install).toContain("'cellule@9.8.7'");
    expect(install.match(/^Write-Host '\[\d\/4\]|^Write-Host "\[\d\/4\]/gm)).toHaveLength(4);
    // The here-string opens at the end of a line and closes at the start of one: the JSON is literal.
    const m = /\$Json = @'\r\n([\s\S]*?)\r\n'@\r\n/.exec(install);
    expect(m).not.toBeNull();
    expect(JSON.parse(m![1]!)).toMatchObject({ token: CODE, name: "ws-01", gpu: "auto", site: "Lyon" });
  });

  it("puts what an admin typed only inside config.json, never into shell code", () => {
    const evil = `x"; touch /tmp/pwned-$$; echo "$(id)\`id\`'\nCELLULE_CONFIG_EOF\n`;
    const files = renderSnippets({ ...base, site: evil, name: evil, modelPath: `/m/${evil}.gguf` });
    const config = JSON.parse(file(files, "config.json")) as { site: string; name: string; model: string };
    expect(config.site).toBe(evil);
    expect(config.name).toBe(evil);
    const install = file(files, "install.sh");
    // The heredoc terminator appears exactly once, on its own line (the JSON escapes line breaks).
    expect(install.match(/^CELLULE_CONFIG_EOF$/gm)).toHaveLength(1);
    const start = file(files, "start.sh");
    expect(start).not.toContain("pwned");
    syntaxCheck(install);
  });

  it("an employee desktop: `--desktop` on every start command (Linux, macOS, Windows) and in config.json (the systemd service reads it there); a server: neither", () => {
    for (const os of ["linux", "macos", "windows"] as const) {
      const desktop = renderSnippets({ ...base, os, desktop: true });
      const start = file(desktop, os === "windows" ? "start.ps1" : "start.sh");
      // The systemd service (Linux) runs `worker --config` on config.json, whose `desktop: true` it reads.
      const commands = start.split(/\r?\n/).filter((l) => /worker --config/.test(l) && !/service install worker/.test(l));
      expect(commands.length, os).toBeGreaterThan(0);
      for (const line of commands) expect(line, os).toContain("--desktop");
      if (os === "macos") expect(start).toMatch(/<string>--config<\/string>\s*<string>\$CONFIG<\/string><string>--desktop<\/string>/);
      expect(JSON.parse(file(desktop, "config.json"))).toMatchObject({ desktop: true });
      const server = renderSnippets({ ...base, os });
      expect(file(server, os === "windows" ? "start.ps1" : "start.sh")).not.toContain("--desktop");
      expect(JSON.parse(file(server, "config.json"))).not.toHaveProperty("desktop");
    }
    syntaxCheck(file(renderSnippets({ ...base, desktop: true }), "start.sh"));
  });

  it("uses the model path (a manual setup, no cache) and slot count given", () => {
    const files = renderSnippets({ ...base, modelPath: "/srv/models/m.gguf", slots: 7, site: null });
    expect(JSON.parse(file(files, "config.json"))).toEqual({ pool: base.poolUrl, token: CODE, model: "/srv/models/m.gguf", slots: 7, gpu: "off" });
  });
});

describe("template helpers", () => {
  it("keeps only the blocks of the requested OS", () => {
    const t = "a\n# @if linux\nL\n# @endif\n  # @if macos\nM\n  # @endif\nz";
    expect(sections(t, "linux")).toBe("a\nL\nz");
    expect(sections(t, "macos")).toBe("a\nM\nz");
    expect(sections(t, "windows")).toBe("a\nz");
  });

  it("fills placeholders once (a value holding {{X}} is not expanded) and refuses an unknown one", () => {
    expect(fill("{{A}}-{{B}}", { A: "{{B}}", B: "b" })).toBe("{{B}}-b");
    expect(() => fill("{{NOPE}}", {})).toThrow(/NOPE/);
  });
});

/** A directory of executables put first on PATH. */
function binDir(scripts: Record<string, string>): string {
  const dir = tmp();
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

const run = (script: string, args: string[], env: Record<string, string>) => spawnSync("sh", [script, ...args], { encoding: "utf8", env: { ...process.env, ...env } });

/** `id -u` answering 1000, so that the scripts take the unprivileged path even when the tests run as root. */
const UNPRIVILEGED_ID = `if [ "$1" = "-u" ]; then echo 1000; else exec /usr/bin/id "$@"; fi`;

describe("install.sh and start.sh, run for real as an unprivileged user", () => {
  it("installs config.json with mode 0600, keeps an enrolled worker's credential, and start.sh --foreground runs `cellule worker --config`", () => {
    const dir = tmp();
    const home = join(dir, "home");
    const files = renderSnippets(base);
    for (const f of files) writeFileSync(join(dir, f.name), f.content);
    const log = join(dir, "cellule-args.txt");
    // A `cellule` on PATH: install.sh must not call npm; start.sh must exec it from CELLULE_HOME.
    const bin = binDir({ cellule: `printf '%s\\n' "$PWD" "$@" > "${log}"`, npm: "echo npm must not run >&2; exit 1", id: UNPRIVILEGED_ID });
    const env = { CELLULE_HOME: home, PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` };

    const install = run(join(dir, "install.sh"), [], env);
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toMatch(/\[1\/4\][\s\S]*\[2\/4\][\s\S]*\[3\/4\][\s\S]*\[4\/4\]/);
    expect(install.stdout).toContain("already on PATH");
    // Auto mode: no model file to copy, so no note about one.
    expect(install.stdout).not.toContain("is not there yet");
    const configPath = join(home, "config.json");
    expect(readFileSync(configPath, "utf8")).toBe(file(files, "config.json"));
    expect(statSync(configPath).mode & 0o777).toBe(0o600);

    const start = run(join(dir, "start.sh"), ["--foreground"], env);
    expect(start.status, start.stderr).toBe(0);
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual([home, "worker", "--config", configPath]);

    // Once enrolled, running install.sh again keeps the credential.
    const enrolled = JSON.stringify({ pool: base.poolUrl, workerId: "w1", credential: "wkr_secret" });
    writeFileSync(configPath, enrolled);
    const again = run(join(dir, "install.sh"), [], env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("already enrolled");
    expect(readFileSync(configPath, "utf8")).toBe(enrolled);

    expect(run(join(dir, "start.sh"), ["--bogus"], env).status).toBe(2);
  });

  it("a manual setup (a model path given) is told to copy the model file there", () => {
    const dir = tmp();
    const home = join(dir, "home");
    for (const f of renderSnippets({ ...base, modelPath: "models/m.gguf" })) writeFileSync(join(dir, f.name), f.content);
    const bin = binDir({ cellule: "true", npm: "exit 1", id: UNPRIVILEGED_ID });
    const install = run(join(dir, "install.sh"), [], { CELLULE_HOME: home, PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` });
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toContain(`the model ${home}/models/m.gguf is not there yet`);
  });

  it("stops with a clear message when Node.js is older than 20, or missing with no cellule", () => {
    const dir = tmp();
    const files = renderSnippets(base);
    for (const f of files) writeFileSync(join(dir, f.name), f.content);
    const oldNode = binDir({ node: "echo 18.19.0", id: UNPRIVILEGED_ID });
    const r = run(join(dir, "install.sh"), [], { CELLULE_HOME: join(dir, "h1"), PATH: `${oldNode}:/usr/bin:/bin` });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Node.js 18.19.0 found; Cellule needs Node.js 20 or later.");

    mkdirSync(join(dir, "h2"));
    const noStart = run(join(dir, "start.sh"), ["--foreground"], { CELLULE_HOME: join(dir, "h2"), PATH: `${oldNode}:/usr/bin:/bin` });
    expect(noStart.status).toBe(1);
    expect(noStart.stderr).toContain("config.json not found: run install.sh first.");
  });
});
