/**
 * The cluster's unified entry (guide §3.1–3.3): an nginx.conf that spreads clients over the pools
 * (`least_conn`), keeps the dashboard and the admin API on one pool per client address (`hash
 * $remote_addr consistent`), passes WebSocket upgrades (dashboard events, worker socket) and
 * streamed answers unbuffered, and retries a refused connection or a 503 (a pool down or draining)
 * on the next pool, POSTs included; nginx never retries once it has sent the client anything.
 * Pure: parsing and rendering only; `cellule entry nginx` (entry.command.ts) writes the file.
 */
import { isIP } from "node:net";
import { posix } from "node:path";
import { MAX_DOCUMENT_BYTES } from "../pool/rag/documents.service.js";
import { WORKER_WS_PATH } from "../protocol/worker.protocol.js";
import { CliError } from "../shared/errors.js";

export const DEFAULT_ENTRY_PORT = 18080;
/** Room for the multipart envelope around a document of the pool's largest size (the pool enforces the 50 MB itself). */
const MULTIPART_ROOM_BYTES = 1024 * 1024;
/** A pool refusing 3 times within 30 s is left out for 30 s (guide §3.1). */
const MAX_FAILS = 3;
const FAIL_TIMEOUT_S = 30;

export interface HostPort {
  host: string;
  port: number;
}

export interface EntryOptions {
  pools: HostPort[];
  /** Address (undefined: every address) and port nginx listens on. */
  listen: { address?: string | undefined; port: number };
  /** Absolute directory holding the pid file, the logs and the temp directories. */
  prefix: string;
  /** `daemon off;` (run in the foreground: tests, systemd Type=simple, containers). */
  foreground: boolean;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new CliError(`${what}: the port must be a number from 1 to 65535 (got '${text}').`);
  return Number(text);
}

/** `host:port`, `10.0.0.5:18080` or `[fd00::5]:18080` → { host, port }; anything else is a CliError naming the entry. */
export function parseHostPort(entry: string, what = "--pools"): HostPort {
  const text = entry.trim();
  const m = /^\[([^\]]+)\]:([^:]+)$/.exec(text) ?? /^([^:[\]]+):([^:]+)$/.exec(text);
  if (!m) throw new CliError(`${what}: '${entry}' is not host:port (IPv6 as [addr]:port), e.g. 10.0.0.11:18080.`);
  const [, host, port] = m as unknown as [string, string, string];
  const bracketed = text.startsWith("[");
  if (bracketed ? isIP(host) !== 6 : isIP(host) === 0 && !HOSTNAME.test(host)) throw new CliError(`${what}: '${host}' in '${entry}' is not an IP address or host name.`);
  return { host, port: parsePort(port, `${what} '${entry}'`) };
}

/** The comma-separated --pools value: at least one pool, no duplicates. */
export function parsePools(value: string): HostPort[] {
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new CliError("--pools needs at least one host:port, e.g. --pools 10.0.0.11:18080,10.0.0.12:18080.");
  const pools = entries.map((e) => parseHostPort(e));
  const seen = new Set<string>();
  for (const p of pools) {
    const key = hostPort(p);
    if (seen.has(key)) throw new CliError(`--pools: ${key} is listed twice.`);
    seen.add(key);
  }
  return pools;
}

/** `--listen 18080`, `--listen 127.0.0.1:8080` or `--listen [::]:18080`. */
export function parseListen(value: string): { address?: string; port: number } {
  const text = value.trim();
  if (/^\d+$/.test(text)) return { port: parsePort(text, "--listen") };
  const { host, port } = parseHostPort(text, "--listen");
  if (isIP(host) === 0) throw new CliError(`--listen: '${host}' must be an IP address of this host (or give a port alone).`);
  return { address: host, port };
}

function hostPort(p: HostPort): string {
  return isIP(p.host) === 6 ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

function listenOf(l: EntryOptions["listen"]): string {
  return l.address === undefined ? String(l.port) : hostPort({ host: l.address, port: l.port });
}

/** nginx string quoting for paths (prefix chosen by the operator). */
function q(path: string): string {
  if (/["\\\n\r]/.test(path)) throw new CliError(`the path ${JSON.stringify(path)} cannot go into nginx.conf (quote, backslash or newline).`);
  return `"${path}"`;
}

/** The client body limit: the pool's largest document plus its multipart envelope, in whole MiB. */
export const ENTRY_MAX_BODY_BYTES = MAX_DOCUMENT_BYTES + MULTIPART_ROOM_BYTES;

/** The complete nginx.conf (`nginx -c FILE` runs it as it is). */
export function renderNginxEntry(o: EntryOptions): string {
  if (o.pools.length === 0) throw new CliError("the entry needs at least one pool.");
  if (!posix.isAbsolute(o.prefix)) throw new CliError(`the entry's directory must be an absolute path (got '${o.prefix}').`);
  const dir = (name: string) => q(posix.join(o.prefix, name));
  const servers = (indent: string) => o.pools.map((p) => `${indent}server ${hostPort(p)} max_fails=${MAX_FAILS} fail_timeout=${FAIL_TIMEOUT_S}s;`).join("\n");
  const tries = Math.max(2, o.pools.length);
  const proxied = `            proxy_pass http://cellule_pools;`;
  return `# Cellule unified entry (guide §3.1–3.3), generated by \`cellule entry nginx\`.
# Run: nginx -p ${o.prefix} -e ${posix.join(o.prefix, "error.log")} -c <this file>
# Pools: ${o.pools.map(hostPort).join(", ")}
${o.foreground ? "daemon off;\n" : ""}worker_processes auto;
pid ${dir("nginx.pid")};
error_log ${dir("error.log")} warn;

events {
    worker_connections 4096;
}

http {
    access_log ${dir("access.log")};
    client_body_temp_path ${dir("tmp/client_body")};
    proxy_temp_path ${dir("tmp/proxy")};
    fastcgi_temp_path ${dir("tmp/fastcgi")};
    uwsgi_temp_path ${dir("tmp/uwsgi")};
    scgi_temp_path ${dir("tmp/scgi")};
    server_tokens off;

    # WebSocket upgrades pass through (dashboard events, worker socket); other requests keep the
    # upstream connection alive (no Connection header).
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      '';
    }

    # API traffic: the pool with the fewest open requests.
    upstream cellule_pools {
        least_conn;
${servers("        ")}
        keepalive 64;
    }

    # Dashboard and admin API: one pool per client address (sessions are replicated; the live
    # events socket and the page stay on the same pool).
    upstream cellule_admin {
        hash $remote_addr consistent;
${servers("        ")}
        keepalive 16;
    }

    server {
        listen ${listenOf(o.listen)};

        # The pool's upload limit (50 MB document) plus its multipart envelope.
        client_max_body_size ${ENTRY_MAX_BODY_BYTES / (1024 * 1024)}m;

        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;

        # Streamed answers (SSE) reach the client token by token. Request bodies stay buffered
        # (nginx's default) so that a POST can still be retried on the next pool.
        proxy_buffering off;
        proxy_read_timeout 300s;
        proxy_send_timeout 300s;
        proxy_connect_timeout 2s;

        # A refused connection, a timeout or a 503 (pool down, draining, nothing to serve) goes to
        # the next pool, POSTs included: only before the pool has answered; never once the client
        # has received anything.
        proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        proxy_next_upstream_tries ${tries};

        location / {
${proxied}
        }

        location = ${WORKER_WS_PATH} {
            # Workers' sockets live for days: heartbeats every few seconds keep them open.
            proxy_read_timeout 3600s;
${proxied}
        }

        location /v1/admin/ {
            proxy_pass http://cellule_admin;
        }

        # Model uploads (issue 19): gigabytes, streamed to the pool as they arrive (the pool
        # enforces CELLULE_MODEL_MAX_BYTES and its free space); sticky like the rest of the admin
        # API, so that a resumable upload session continues on the pool that holds its bytes.
        location /v1/admin/models {
            client_max_body_size 0;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_pass http://cellule_admin;
        }

        location = /admin {
            proxy_pass http://cellule_admin;
        }

        location /admin/ {
            proxy_pass http://cellule_admin;
        }
    }
}
`;
}
