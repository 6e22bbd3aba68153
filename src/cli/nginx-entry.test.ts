import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WORKER_WS_PATH } from "../protocol/worker.protocol.js";
import { CliError } from "../shared/errors.js";
import { ENTRY_MAX_BODY_BYTES, parseHostPort, parseListen, parsePools, renderNginxEntry } from "./nginx-entry.js";

const dir = mkdtempSync(join(tmpdir(), "cellule-nginx-entry-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pools = parsePools("10.0.0.11:18080, pool-b.lan:18080,[fd00::13]:18081");
const conf = renderNginxEntry({ pools, listen: { port: 18080 }, prefix: dir, foreground: false });

/** The body of `name { … }` (first block with that header; braces balanced). */
function block(text: string, header: string): string {
  const start = text.indexOf(`${header} {`);
  expect(start, `block '${header}'`).toBeGreaterThanOrEqual(0);
  let depth = 0;
  for (let i = text.indexOf("{", start); i < text.length; i++) {
    if (text[i] === "{") depth++;
    if (text[i] === "}" && --depth === 0) return text.slice(text.indexOf("{", start) + 1, i);
  }
  throw new Error(`unbalanced block ${header}`);
}

describe("parsePools / parseListen", () => {
  it("reads host:port, host names and bracketed IPv6", () => {
    expect(pools).toEqual([
      { host: "10.0.0.11", port: 18080 },
      { host: "pool-b.lan", port: 18080 },
      { host: "fd00::13", port: 18081 },
    ]);
    expect(parseListen("8443")).toEqual({ port: 8443 });
    expect(parseListen("127.0.0.1:9000")).toEqual({ address: "127.0.0.1", port: 9000 });
    expect(parseListen("[::]:18080")).toEqual({ address: "::", port: 18080 });
  });

  it.each([
    ["10.0.0.11", /not host:port/],
    ["10.0.0.11:0", /port must be a number from 1 to 65535/],
    ["10.0.0.11:70000", /port must be a number from 1 to 65535/],
    ["10.0.0.11:http", /port must be/],
    ["fd00::13:18080", /not host:port/],
    ["[pool.lan]:18080", /not an IP address or host name/],
    ["bad_host!:18080", /not an IP address or host name/],
    ["http://10.0.0.11:18080", /not host:port/],
  ])("refuses %s with a CliError naming it", (entry, why) => {
    expect(() => parseHostPort(entry)).toThrow(CliError);
    expect(() => parseHostPort(entry)).toThrow(why);
  });

  it("refuses an empty list, a duplicate and a listen host name", () => {
    expect(() => parsePools(" , ")).toThrow(/at least one host:port/);
    expect(() => parsePools("10.0.0.1:1,10.0.0.1:1")).toThrow(/10\.0\.0\.1:1 is listed twice/);
    expect(() => parseListen("entry.lan:80")).toThrow(/must be an IP address/);
    expect(() => renderNginxEntry({ pools, listen: { port: 1 }, prefix: "relative/dir", foreground: false })).toThrow(/absolute path/);
  });
});

describe("renderNginxEntry", () => {
  it("spreads the API with least_conn and keeps the admin paths sticky per client address, every pool with max_fails=3 fail_timeout=30s", () => {
    const api = block(conf, "upstream cellule_pools");
    const admin = block(conf, "upstream cellule_admin");
    expect(api).toMatch(/^\s*least_conn;/m);
    expect(admin).toMatch(/^\s*hash \$remote_addr consistent;/m);
    for (const up of [api, admin]) {
      expect(up).toContain("server 10.0.0.11:18080 max_fails=3 fail_timeout=30s;");
      expect(up).toContain("server pool-b.lan:18080 max_fails=3 fail_timeout=30s;");
      expect(up).toContain("server [fd00::13]:18081 max_fails=3 fail_timeout=30s;");
    }
    const server = block(conf, "server");
    expect(block(server, "location /v1/admin/")).toContain("proxy_pass http://cellule_admin;");
    const models = block(server, "location /v1/admin/models");
    expect(models).toContain("proxy_pass http://cellule_admin;");
    expect(models).toMatch(/client_max_body_size 0;[\s\S]*proxy_request_buffering off;/);
    expect(block(server, "location = /admin")).toContain("proxy_pass http://cellule_admin;");
    expect(block(server, "location /admin/")).toContain("proxy_pass http://cellule_admin;");
    expect(block(server, "location /")).toContain("proxy_pass http://cellule_pools;");
    expect(block(server, `location = ${WORKER_WS_PATH}`)).toContain("proxy_pass http://cellule_pools;");
  });

  it("keeps upgrades, streams unbuffered, retries 503 and refused connections on the next pool (POSTs too), forwards the client address", () => {
    const server = block(conf, "server");
    expect(server).toMatch(/^\s*listen 18080;/m);
    for (const line of [
      "proxy_http_version 1.1;",
      "proxy_set_header Upgrade $http_upgrade;",
      "proxy_set_header Connection $connection_upgrade;",
      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
      "proxy_set_header X-Real-IP $remote_addr;",
      "proxy_buffering off;",
      "proxy_read_timeout 300s;",
      "proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
      "proxy_next_upstream_tries 3;",
      `client_max_body_size ${ENTRY_MAX_BODY_BYTES / 1024 / 1024}m;`,
    ])
      expect(server).toContain(line);
    expect(ENTRY_MAX_BODY_BYTES).toBeGreaterThanOrEqual(50 * 1024 * 1024);
    // Request bodies stay buffered (a POST retried on the next pool), model uploads aside (gigabytes, streamed).
    expect(conf.replace(block(server, "location /v1/admin/models"), "")).not.toContain("proxy_request_buffering off");
    expect(conf).toMatch(/map \$http_upgrade \$connection_upgrade \{\s*default upgrade;/);
  });

  it("puts the pid file, logs and temp paths under the prefix, and daemon off only when asked", () => {
    expect(conf).toContain(`pid "${dir}/nginx.pid";`);
    expect(conf).toContain(`error_log "${dir}/error.log" warn;`);
    expect(conf).toContain(`client_body_temp_path "${dir}/tmp/client_body";`);
    expect(conf).not.toMatch(/\/var\/(log|lib|run)/);
    expect(conf).not.toContain("daemon off;");
    expect(renderNginxEntry({ pools, listen: { address: "127.0.0.1", port: 9000 }, prefix: dir, foreground: true })).toMatch(/^daemon off;$[\s\S]*listen 127\.0\.0\.1:9000;/m);
    expect(() => renderNginxEntry({ pools, listen: { port: 1 }, prefix: '/tmp/a"b', foreground: false })).toThrow(/cannot go into nginx.conf/);
  });

  it("is accepted by the real nginx (nginx -t)", () => {
    const nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
    if (!nginx) throw new Error("nginx is not installed: apt-get install -y nginx-light (see .ci/run)");
    const prefix = join(dir, "t");
    mkdirSync(join(prefix, "tmp"), { recursive: true });
    chmodSync(dir, 0o755);
    const file = join(prefix, "nginx.conf");
    // Host names must resolve for nginx -t: loopback addresses only.
    writeFileSync(file, renderNginxEntry({ pools: parsePools("127.0.0.1:18081,127.0.0.2:18082,[::1]:18083"), listen: { address: "127.0.0.1", port: 18099 }, prefix, foreground: true }));
    const r = spawnSync(nginx, ["-t", "-p", prefix, "-e", join(prefix, "error.log"), "-c", file], { encoding: "utf8" });
    expect(r.stderr).toContain("syntax is ok");
    expect(r.stderr).toContain("test is successful");
    expect(r.status).toBe(0);
  });
});
