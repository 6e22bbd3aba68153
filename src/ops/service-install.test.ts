import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { activateService, installService, type HostOps } from "./service-install.js";
import { renderUnit, UNITS_DIR } from "./systemd-units.js";

const quiet = () => {};

/** `systemd-analyze verify` on a unit file; returns its output (throws on failure). */
function verify(file: string): string {
  return execFileSync("systemd-analyze", ["verify", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function fakeHost(systemd: boolean, users: string[] = []): HostOps & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    isRoot: () => true,
    systemdRunning: () => systemd,
    userExists: (name) => users.includes(name),
    run: (cmd, args) => void calls.push([cmd, ...args].join(" ")),
  };
}

describe("systemd units", () => {
  for (const role of ["pool", "worker"] as const) {
    it(`appliance/systemd/cellule-${role}.service passes systemd-analyze verify (ExecStart on an existing file) and is hardened`, () => {
      const template = readFileSync(join(UNITS_DIR, `cellule-${role}.service`), "utf8");
      for (const line of ["NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true", "Restart=on-failure", "StandardOutput=journal", "User=cellule"]) {
        expect(template.split("\n")).toContain(line);
      }
      expect(template).toMatch(/^ReadWritePaths=\S+/m);
      expect(template).toMatch(/^EnvironmentFile=-\/etc\/cellule\/\w+\.env$/m);
      const dir = mkdtempSync(join(tmpdir(), "cellule-unit-"));
      const file = join(dir, `cellule-${role}.service`);
      // The template's own text, only ExecStart's binary swapped for one that exists here.
      writeFileSync(file, template.replace(/^ExecStart=\S+/m, "ExecStart=/bin/true"));
      expect(() => verify(file)).not.toThrow();
    });
  }

  it("renders the host's values and keeps everything else", () => {
    const unit = renderUnit("pool", { user: "svc", execStart: "/bin/true pool", workingDirectory: "/srv/c", environmentFile: "/etc/cellule/pool.env", readWritePaths: ["/srv/c", "/srv/keys"], path: "/opt/node/bin:/usr/bin", dataDir: "/srv/c" });
    expect(unit).toMatch(/^User=svc$/m);
    expect(unit).toMatch(/^ExecStart=\/bin\/true pool$/m);
    expect(unit).toMatch(/^ReadWritePaths=\/srv\/c \/srv\/keys$/m);
    expect(unit).toMatch(/^Environment=CELLULE_DATA_DIR=\/srv\/c$/m);
    expect(unit).toMatch(/^Environment=PATH=\/opt\/node\/bin:\/usr\/bin$/m);
    expect(unit).not.toMatch(/^StateDirectory=/m); // only for /var/lib/cellule
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
  });
});

describe("cellule service install", () => {
  it("--root: writes the unit (0644, verifiable) and the env file (0600), calls nothing", () => {
    const root = mkdtempSync(join(tmpdir(), "cellule-root-"));
    const host = fakeHost(true);
    const done = installService({ role: "pool", root, user: "cellule", start: true, dataDir: "/var/lib/cellule", env: { CELLULE_PORT: "18080" }, progress: quiet }, host);
    expect(host.calls).toEqual([]);
    expect(done.started).toBe(false);
    const unitFile = join(root, "etc/systemd/system/cellule-pool.service");
    expect(statSync(unitFile).mode & 0o777).toBe(0o644);
    expect(statSync(join(root, "etc/cellule/pool.env")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, "etc/cellule/pool.env"), "utf8")).toMatch(/^CELLULE_PORT=18080$/m);
    expect(readFileSync(join(root, "etc/cellule/pool.env"), "utf8")).toMatch(/^CELLULE_DATA_DIR=\/var\/lib\/cellule$/m);
    expect(statSync(join(root, "var/lib/cellule")).isDirectory()).toBe(true);
    const unit = readFileSync(unitFile, "utf8");
    expect(unit).toContain(`ExecStart=${process.execPath} `);
    expect(() => verify(unitFile)).not.toThrow(); // ExecStart is this node: it exists
    // A second run keeps the existing variables and adds the new ones.
    installService({ role: "pool", root, user: "cellule", start: true, env: { CELLULE_LOG_LEVEL: "debug" }, progress: quiet }, host);
    const env = readFileSync(join(root, "etc/cellule/pool.env"), "utf8");
    expect(env).toMatch(/^CELLULE_PORT=18080$/m);
    expect(env).toMatch(/^CELLULE_LOG_LEVEL=debug$/m);
  });

  it("on the system: creates the missing user, chowns its paths, daemon-reload and enable --now", () => {
    const host = fakeHost(true);
    expect(activateService("worker", { user: "cellule", writable: ["/opt/cellule"], workingDirectory: "/opt/cellule", start: true }, host, quiet)).toBe(true);
    expect(host.calls).toEqual([
      "useradd --system --user-group --home-dir /opt/cellule --no-create-home --shell /usr/sbin/nologin cellule",
      "chown -R cellule: /opt/cellule",
      "systemctl daemon-reload",
      "systemctl enable --now cellule-worker.service",
    ]);
    const existing = fakeHost(true, ["cellule"]);
    expect(activateService("pool", { user: "cellule", writable: ["/var/lib/cellule"], workingDirectory: "/var/lib/cellule", start: false }, existing, quiet)).toBe(false);
    expect(existing.calls).toEqual(["chown -R cellule: /var/lib/cellule", "systemctl daemon-reload"]);
    const noSystemd = fakeHost(false, ["cellule"]);
    const said: string[] = [];
    expect(activateService("pool", { user: "cellule", writable: ["/var/lib/cellule"], workingDirectory: "/var/lib/cellule", start: true }, noSystemd, (l) => said.push(l))).toBe(false);
    expect(noSystemd.calls).toEqual(["chown -R cellule: /var/lib/cellule"]);
    expect(said.join("\n")).toContain("systemd is not running");
  });

  it("refuses a bad user name and a non-root system install", () => {
    const notRoot: HostOps = { ...fakeHost(true), isRoot: () => false };
    expect(() => installService({ role: "pool", root: "/", user: "cellule", start: true, env: {}, progress: quiet }, notRoot)).toThrow(/needs root/);
    expect(() => installService({ role: "pool", root: "/tmp", user: "bad name", start: true, env: {}, progress: quiet }, notRoot)).toThrow(/Invalid user/);
  });
});
