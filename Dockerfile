# The Cellule image: one image, every role (docs/docker.md).
#   docker run … cellule-pool            → `cellule pool` (the default command)
#   command: ["worker"]                  → `cellule worker` (CELLULE_POOL_URL, CELLULE_WORKER_TOKEN, CELLULE_MODEL)
#   command: ["vip", "sidecar", …]       → keepalived beside a pool (run as root, network_mode: host, NET_ADMIN)
#   docker compose exec pool cellule …   → admin commands (keys, setup apply, pool tokens, federation, …)
#
# Variables (README's table has them all; the admin guide §1.3 names in brackets are accepted too):
#   CELLULE_POOL_NAME [POOL_NAME]          the pool's name in the federation (dashboard name wins)
#   DATABASE_URL                           external PostgreSQL + pgvector; unset: embedded PGlite in the data volume
#   CELLULE_EMBEDDING_MODEL [IAMINE_EMBEDDER_PATH]  embedding model id (pool) / GGUF path (worker)
#   CELLULE_FED_KEY_DIR [IAMINE_FED_KEY_DIR]        the Ed25519 identity: a NAMED volume (guide §4.5 P2)
#   CELLULE_PUBLIC_URL [POOL_URL]          the URL the other pools reach this one at: a LAN address or FQDN,
#                                          never a container name (guide §4.5 P1)
#   CELLULE_BOND_PEERS [IAMINE_BOND_PEERS] + CELLULE_FED_BOND_SECRET  bond with these pools at boot (§4.5 P4)
#   CELLULE_FED [IAMINE_FED], CELLULE_FED_GOSSIP_ENABLED, CELLULE_DEBUG_INGEST  the §4.5 P5 toggles
#   CELLULE_LICENSE_KEY [LICENSE_KEY], CELLULE_FORWARDING_ENABLED [FORWARDING_ENABLED]
#   ADMIN_PASSWORD / CELLULE_ADMIN_PASSWORD_FILE (a Docker secret), CELLULE_ADMIN_EMAIL
# The guide's CELLULE_ENTERPRISE has no equivalent: the PRO features follow the installed license.
# FEDERATION_SELF_PRIVKEY_PATH / FEDERATION_SELF_ATOM_ID are not variables here: the key pair lives in
# CELLULE_FED_KEY_DIR (made at first boot, or by `cellule federation generate-keypair`) and the atom
# id is derived from it.

# ---- build: every dependency, the TypeScript and the dashboard compiled -------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
# The sources (.dockerignore lets through only what the build needs), then the whole build in one
# step: without BuildKit every step runs in a container made from the image so far, which a storage
# driver without layers (vfs) copies whole, and the full dependency tree is ~2 GB; this stage's only
# layer keeps /out alone.
COPY . .
# --ignore-scripts: the only install script that matters, node-llama-cpp's, would try to download or
# compile llama.cpp; its prebuilt binaries (@node-llama-cpp/<platform>) are what the worker loads.
# (npm 10 can print "Exit handler never called" and still exit 0: check that the install happened.)
RUN npm ci --ignore-scripts --no-audit --no-fund && test -x node_modules/.bin/tsc \
 && npm run build \
 # Production dependencies only: a second `npm ci` from the cache the first one filled (measured:
 # `npm prune --omit=dev` left the dev dependencies in place here).
 && rm -rf node_modules && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund \
 # TypeScript is an optional peer of node-llama-cpp that the lock file keeps; nothing at run time needs it.
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver \
 # CPU image: the CUDA and Vulkan builds of llama.cpp (~600 MB) and other architectures' go.
 && arch="$(node -p process.arch)" \
 && find node_modules/@node-llama-cpp -mindepth 1 -maxdepth 1 ! -name "linux-$arch" -exec rm -rf {} + \
 # What the runtime reads: dist/, the non-TypeScript files under src/ (migrations, templates, lists), docs/.
 && mkdir -p /out \
 && cp -a package.json dist node_modules docs /out/ \
 && find src -type f ! -name '*.ts' -exec cp --parents {} /out/ \; \
 && chmod 755 /out/dist/cli/main.js \
 && cd / && rm -rf /src /root/.npm

# ---- runtime: production dependencies only, non-root, tini as PID 1 ------------------------------
FROM node:20-bookworm-slim
# tini: signals and zombies (PID 1); curl: the health check and keepalived's scripts; keepalived:
# the `vip sidecar` role.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini curl ca-certificates keepalived \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 cellule \
 && useradd --uid 10001 --gid cellule --no-create-home --home-dir /var/lib/cellule --shell /usr/sbin/nologin cellule \
 && mkdir -p /var/lib/cellule/data /var/lib/cellule/documents /var/lib/cellule/keys /var/lib/cellule/worker /backups \
 && chown -R cellule:cellule /var/lib/cellule /backups \
 && chmod 700 /var/lib/cellule/data /var/lib/cellule/documents /var/lib/cellule/keys /var/lib/cellule/worker \
 && ln -s /opt/cellule/dist/cli/main.js /usr/local/bin/cellule
ENV NODE_ENV=production \
    CELLULE_HOST=0.0.0.0 \
    CELLULE_PORT=18080 \
    CELLULE_LOG_FORMAT=json \
    CELLULE_DATA_DIR=/var/lib/cellule/data \
    CELLULE_STORAGE_DIR=/var/lib/cellule/documents \
    CELLULE_FED_KEY_DIR=/var/lib/cellule/keys \
    CELLULE_WORKER_CONFIG=/var/lib/cellule/worker/worker.json
# Named volumes in the compose files (guide §1.4, §4.5 P2): the database, the uploaded documents and
# the federation identity (losing it = a new atom_id and every bond broken).
VOLUME ["/var/lib/cellule/data", "/var/lib/cellule/documents", "/var/lib/cellule/keys"]
USER cellule
WORKDIR /var/lib/cellule
EXPOSE 18080
# The pool's open health check; the other roles have no HTTP port and report healthy.
HEALTHCHECK --interval=10s --timeout=5s --start-period=90s --retries=3 CMD ["cellule-healthcheck"]
ENTRYPOINT ["tini", "--", "cellule"]
CMD ["pool"]
# Last, after the metadata: without BuildKit every step runs in a container made from the image so
# far, which storage drivers without layers (vfs) copy whole; the application is copied once, here.
COPY --from=build /out /opt/cellule
COPY appliance/docker/healthcheck.sh /usr/local/bin/cellule-healthcheck
