#!/usr/bin/env bash
# Installs (or re-checks) the 3-pool cabinet of compose.yaml on this host (admin guide §4.1, §4.5):
#
#   CELLULE_LAN_IP=10.0.1.5 ./install.sh [--answers answers.json]
#
#  1. .env: the LAN address, the cluster bond secret (random), the image; kept on later runs.
#  2. `docker compose up -d` of the three pools; waits for their /v1/status.
#  3. each pool's Ed25519 key pair, made by the pool at first boot in its own named volume: checked.
#  4. entry/nginx.conf rendered by `cellule entry nginx` in pool-a (the pools' LAN addresses,
#     :18080), then the rest of the stack (the entry, the profiles' services).
#  5. first-boot setup of each pool from the answers file (`cellule setup apply`, format:
#     docs/setup-answers.example.json), or the wizard URLs to open when no file is given.
#  6. the pools bond by themselves (CELLULE_BOND_PEERS + the bond secret); this waits for the six
#     bonds and promotes each peer to trust 3 (replication, §4.5 P3) with an install admin key
#     kept in .secrets/ (mode 0600).
#  7. prints the entry URL.
# Idempotent: a second run finds everything done and changes nothing (no new key, no restart).
#
# Environment: CELLULE_LAN_IP (default: the source address of the default route), CELLULE_IMAGE
# (default cellule:latest), CELLULE_PROFILES (e.g. "vip"), CELLULE_POSTGRES=1 (profile postgres:
# one database per pool on pgvector/pgvector:pg16), CELLULE_INSTALL_TIMEOUT_S (default 300).
set -euo pipefail
cd "$(dirname "$0")"

ANSWERS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --answers) ANSWERS="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[cabinet] %s\n' "$*" >&2; }
die() { printf '[cabinet] error: %s\n' "$*" >&2; exit 1; }
TIMEOUT_S="${CELLULE_INSTALL_TIMEOUT_S:-300}"
POOLS=(pool-a pool-b pool-c)
declare -A PORT=([pool-a]=18081 [pool-b]=18082 [pool-c]=18083)

# docker-compose 1.x gives up on a daemon call after 60 s: creating three containers of this image
# at once on a slow storage driver (vfs) takes longer.
export COMPOSE_HTTP_TIMEOUT="${COMPOSE_HTTP_TIMEOUT:-600}"
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); elif command -v docker-compose >/dev/null; then COMPOSE=(docker-compose); else die "needs docker compose (or docker-compose)"; fi

# --- 1. .env ------------------------------------------------------------------------------------
env_get() { if [ -f .env ]; then sed -n "s/^$1=//p" .env | tail -1; fi; }
random_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
lan_ip="${CELLULE_LAN_IP:-$(env_get CELLULE_LAN_IP)}"
[ -n "$lan_ip" ] || lan_ip="$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')"
[ -n "$lan_ip" ] || die "cannot find this host's LAN address: set CELLULE_LAN_IP"
case "$lan_ip" in 127.* | 0.0.0.0) die "CELLULE_LAN_IP=$lan_ip: the pools must advertise an address the other pools reach (guide §4.5 P1), not loopback" ;; esac
image="${CELLULE_IMAGE:-$(env_get CELLULE_IMAGE)}"
secret="$(env_get CELLULE_FED_BOND_SECRET)"
[ -n "$secret" ] || secret="$(random_secret)"
profiles="${CELLULE_PROFILES:-$(env_get COMPOSE_PROFILES)}"
pg_password="$(env_get CELLULE_PG_PASSWORD)"
{
  echo "# Written by install.sh; secrets: keep this file mode 0600, never commit it."
  echo "CELLULE_LAN_IP=$lan_ip"
  echo "CELLULE_IMAGE=${image:-cellule:latest}"
  echo "CELLULE_FED_BOND_SECRET=$secret"
  if [ "${CELLULE_POSTGRES:-}" = 1 ] || [ -n "$pg_password" ]; then
    [ -n "$pg_password" ] || pg_password="$(random_secret)"
    profiles="$(echo "${profiles:+$profiles,}postgres" | tr ',' '\n' | sort -u | paste -sd, -)"
    echo "CELLULE_PG_PASSWORD=$pg_password"
    for p in a b c; do echo "CELLULE_DATABASE_URL_${p^^}=postgres://postgres:$pg_password@pg:5432/cellule_$p"; done
  fi
  [ -z "$profiles" ] || echo "COMPOSE_PROFILES=$profiles"
} >.env.new
chmod 600 .env.new
if cmp -s .env.new .env; then rm .env.new; else mv .env.new .env; say "wrote .env (LAN address $lan_ip)"; fi
image="$(env_get CELLULE_IMAGE)"
export COMPOSE_PROFILES="$profiles"
docker image inspect "$image" >/dev/null 2>&1 || die "image $image not found: build it first (docker build -t $image ../..)"

# --- 2. the pools -------------------------------------------------------------------------------
# Started first, without the entry (its nginx.conf is rendered next, by a running pool). Each pool
# makes its Ed25519 key pair at first boot, in its own named volume (guide §4.5 P2); nothing here
# starts a throwaway container: on a storage driver without layers (vfs) each one copies the image.
first=("${POOLS[@]}")
case ",$profiles," in *,postgres,*) first=(pg "${first[@]}") ;; esac # the pools' databases
"${COMPOSE[@]}" up -d --no-build "${first[@]}" >&2
wait_for() { # description, command…
  local what="$1" end=$((SECONDS + TIMEOUT_S)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || die "timed out waiting for $what"
    sleep 2
  done
}
# In the pool's own container: its open health check (the image's, GET /v1/status).
for pool in "${POOLS[@]}"; do wait_for "$pool to serve /v1/status" "${COMPOSE[@]}" exec -T "$pool" cellule-healthcheck; done

# --- 3. federation key pairs ---------------------------------------------------------------------
for pool in "${POOLS[@]}"; do
  "${COMPOSE[@]}" exec -T "$pool" sh -c 'test -s "$CELLULE_FED_KEY_DIR/federation_self.privkey"' </dev/null \
    || die "$pool has no federation key pair in its keys volume (see its log: docker compose logs $pool)"
done

# --- 4. the entry --------------------------------------------------------------------------------
mkdir -p entry
"${COMPOSE[@]}" exec -T pool-a cellule entry nginx --pools "$lan_ip:18081,$lan_ip:18082,$lan_ip:18083" --listen 18080 --prefix /tmp/cellule-entry --foreground </dev/null >entry/nginx.conf.new
[ -s entry/nginx.conf.new ] || die "cellule entry nginx rendered nothing"
if cmp -s entry/nginx.conf.new entry/nginx.conf; then rm entry/nginx.conf.new; else mv entry/nginx.conf.new entry/nginx.conf; say "rendered entry/nginx.conf"; fi
# The rest of the stack (the entry; the profiles' services); containers already up are left as they are.
"${COMPOSE[@]}" up -d --no-build --remove-orphans >&2

# --- 5. first-boot setup -------------------------------------------------------------------------
# An HTTP call to the pool from inside its container; the install admin key (once made) goes to
# curl's config on stdin, never into a command line.
api() { # pool method path [json-body]
  local pool="$1" method="$2" path="$3" body="${4:-}"
  { if [ -s ".secrets/$pool.admin-key" ]; then printf 'header = "authorization: Bearer %s"\n' "$(cat ".secrets/$pool.admin-key")"; fi; } | "${COMPOSE[@]}" exec -T "$pool" \
    curl -fsS -K - -X "$method" -H 'content-type: application/json' ${body:+--data "$body"} "http://127.0.0.1:${PORT[$pool]}$path"
}
pending=()
for pool in "${POOLS[@]}"; do
  case "$(api "$pool" GET /setup/state)" in *'"completed":true'*) continue ;; esac
  if [ -n "$ANSWERS" ]; then
    say "$pool: setup from $(basename "$ANSWERS")"
    "${COMPOSE[@]}" exec -T "$pool" cellule setup apply --file /dev/stdin <"$ANSWERS" >&2
  else
    pending+=("$pool")
  fi
done
if [ ${#pending[@]} -gt 0 ]; then
  say "setup is pending: open the wizard of each pool, then run ./install.sh again to bond them:"
  for pool in "${pending[@]}"; do say "  $pool: http://$lan_ip:${PORT[$pool]}/setup/ui"; done
  exit 0
fi

# --- 6. bonds at trust 3 -------------------------------------------------------------------------
mkdir -p -m 700 .secrets
for pool in "${POOLS[@]}"; do
  [ -s ".secrets/$pool.admin-key" ] && continue
  (umask 077 && "${COMPOSE[@]}" exec -T "$pool" cellule keys create --admin --name cabinet-install </dev/null >".secrets/$pool.admin-key.new" 2>/dev/null)
  mv ".secrets/$pool.admin-key.new" ".secrets/$pool.admin-key"
  say "$pool: install admin key stored in .secrets/$pool.admin-key"
done
# Peers as "atom_id trust_level status" lines (the pool's own node parses its JSON).
peers_of() {
  api "$1" GET /v1/federation/peers | "${COMPOSE[@]}" exec -T "$1" node -e \
    'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{for(const p of JSON.parse(s).data)console.log(p.atom_id,p.trust_level,p.status)})'
}
two_bonds() { [ "$(peers_of "$1" | grep -c ' bonded$')" -ge 2 ]; }
for pool in "${POOLS[@]}"; do wait_for "$pool to bond with its two peers" two_bonds "$pool"; done
for pool in "${POOLS[@]}"; do
  peers_of "$pool" | while read -r atom trust status; do
    [ "$status" = bonded ] && [ "$trust" -lt 3 ] || continue
    api "$pool" POST "/v1/federation/peers/$atom/promote" '{"target_level":3}' >/dev/null </dev/null
    say "$pool: peer $atom promoted to trust 3"
  done
done

# --- 7. done -------------------------------------------------------------------------------------
say "the cabinet is ready: three pools bonded at trust 3"
echo "Entry: http://$lan_ip:18080  (admin dashboard: http://$lan_ip:18080/admin/login, OpenAI base URL: http://$lan_ip:18080/v1)"
