import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { VipSelf } from "../protocol/vip.protocol.js";
import { checkedPoolUrl, keepalivedArgs, renderKeepalived } from "./keepalived-conf.js";

const runDir = mkdtempSync(join(tmpdir(), "cellule-vip-conf-"));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

const SELF: VipSelf = { enabled: true, interface: "eth0", address: "10.77.0.100/24", priority: 200, router_id: 42, auth_pass: "Ab3_x-9Z", mode: "preempt", advert_int: 1, reported_state: null };
const files = { runDir, poolUrl: "http://127.0.0.1:18080" };

describe("keepalived files for a pool", () => {
  it("renders one VRRP instance from vip-self: interface, router id, priority, password, VIP, health check, notify", () => {
    const { conf, check, notify } = renderKeepalived(SELF, files);
    expect(conf).toContain("state BACKUP");
    expect(conf).toContain("interface eth0");
    expect(conf).toContain("virtual_router_id 42");
    expect(conf).toContain("priority 200");
    expect(conf).toContain("advert_int 1");
    expect(conf).toContain("auth_pass Ab3_x-9Z");
    expect(conf).toContain("10.77.0.100/24 dev eth0");
    expect(conf).toMatch(/track_script \{\s+cellule_pool_ready\s+\}/);
    expect(conf).toMatch(/track_file \{\s+cellule_pool_probe weight 0\s+\}/);
    expect(conf).toContain(`file "${join(runDir, "pool-down")}"`);
    expect(conf).toContain(`notify "${join(runDir, "notify.sh")}"`);
    expect(conf).not.toContain("nopreempt");
    expect(check).toContain("curl -fsS -o /dev/null -m 2 'http://127.0.0.1:18080/v1/status'");
    expect(notify).toContain("'http://127.0.0.1:18080/v1/cluster/vip-events'");
    // The token is read from a header file, never written in a script.
    expect(notify).toContain(`-H @'${join(runDir, "auth.header")}'`);
  });

  it("no-preempt mode adds nopreempt (the holder keeps the VIP when a higher priority returns)", () => {
    expect(renderKeepalived({ ...SELF, mode: "no-preempt" }, files).conf).toMatch(/\n {2}nopreempt\n/);
  });

  it("real keepalived accepts the rendered configuration (keepalived --config-test)", () => {
    const { conf, check, notify } = renderKeepalived(SELF, files);
    writeFileSync(join(runDir, "keepalived.conf"), conf, { mode: 0o600 });
    writeFileSync(join(runDir, "check-pool.sh"), check, { mode: 0o700 });
    writeFileSync(join(runDir, "notify.sh"), notify, { mode: 0o700 });
    const r = spawnSync("keepalived", ["--config-test", "-f", join(runDir, "keepalived.conf")], { encoding: "utf8" });
    if (r.error) throw new Error(`keepalived is not installed (Debian: apt-get install keepalived; .ci/run installs it): ${r.error.message}`);
    expect(r.stderr + r.stdout).not.toMatch(/unknown keyword|error|invalid/i);
    expect(r.status).toBe(0);
  });

  it("refuses values that would break out of the configuration or a script", () => {
    expect(() => renderKeepalived({ ...SELF, interface: "eth0\n}" }, files)).toThrow(/interface/);
    expect(() => renderKeepalived({ ...SELF, address: "10.0.0.1/24 dev lo" }, files)).toThrow(/virtual IP/);
    expect(() => renderKeepalived({ ...SELF, auth_pass: 'a"b c d ' }, files)).toThrow(/password/);
    expect(() => renderKeepalived(SELF, { ...files, runDir: "/tmp/a b" })).toThrow(/run directory/);
    expect(() => checkedPoolUrl("http://h'; rm -rf /;'")).toThrow();
    expect(() => renderKeepalived({ ...SELF, enabled: false }, files)).toThrow(/not enabled/);
    expect(checkedPoolUrl("http://10.77.0.1:18080/some/path?x=1")).toBe("http://10.77.0.1:18080");
  });

  it("runs keepalived in the foreground with its own pid files (several on one machine)", () => {
    const args = keepalivedArgs(runDir);
    expect(args.slice(0, 2)).toEqual(["-n", "-l"]);
    expect(args).toContain(join(runDir, "keepalived.pid"));
    expect(args).toContain(join(runDir, "vrrp.pid"));
  });
});
