/**
 * The latency map: an inline SVG with this pool in the centre and the bonded pools on a circle
 * around it; each edge is labelled with the median round trip and coloured by class (LAN green,
 * metro amber, WAN red, unreachable grey and dashed). Edge length does not encode distance: the
 * label and colour do, so the map stays readable with any number of peers.
 */
import { useI18n } from "../../../i18n/index.js";
import type { NetworkClass, Topology, TopologyPeer } from "../../../../src/protocol/federation.protocol.js";
import { hostOf, ms, shortId } from "../federation/format.js";

const W = 640;
const H = 420;
const CX = W / 2;
const CY = H / 2;
const R = 150;
const COLORS: Record<NetworkClass | "none", string> = { lan: "#1a7f45", metro: "#b07400", wan: "#b42318", none: "#8a94a3" };

const colorOf = (p: TopologyPeer) => (p.reachable && p.network_class ? COLORS[p.network_class] : COLORS.none);

export function LatencyMap(p: { topology: Topology }) {
  const { t } = useI18n();
  const peers = p.topology.peers;
  const n = peers.length;
  const label = t("topology.mapLabel", { n, type: t(`topology.type.${p.topology.network_type}`) });
  const edgeText = (peer: TopologyPeer) => (!peer.reachable ? (peer.last_probe_at || peer.error ? t("topology.unreachable") : t("topology.pending")) : peer.latency_ms === null ? "—" : `${ms(peer.latency_ms)} ms`);

  return (
    <figure class="card" id="latency-map" style={{ margin: "0 0 1rem" }}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} style={{ width: "100%", maxWidth: `${W}px`, height: "auto", display: "block", margin: "0 auto" }}>
        <title>{label}</title>
        {peers.map((peer, i) => {
          const a = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2;
          const x = CX + R * Math.cos(a);
          const y = CY + R * Math.sin(a);
          const mx = (CX + x) / 2;
          const my = (CY + y) / 2;
          const color = colorOf(peer);
          const text = edgeText(peer);
          const anchorRight = Math.cos(a) < -0.3;
          const below = Math.sin(a) > 0.3;
          return (
            <g key={peer.atom_id} class="topo-peer" data-atom={peer.atom_id} data-class={peer.reachable ? (peer.network_class ?? "none") : "unreachable"}>
              <line x1={CX} y1={CY} x2={x} y2={y} stroke={color} stroke-width={peer.reachable ? 3 : 2} stroke-dasharray={peer.reachable ? undefined : "6 5"} />
              <rect x={mx - 42} y={my - 11} width={84} height={22} rx={11} fill="#fff" stroke={color} />
              <text x={mx} y={my + 4} text-anchor="middle" font-size="12" font-weight="700" fill={color} class="topo-edge-label">
                {text}
              </text>
              <circle cx={x} cy={y} r={16} fill="#fff" stroke={color} stroke-width={3}>
                <title>{`${peer.url} (${peer.atom_id})`}</title>
              </circle>
              <text
                x={x + (anchorRight ? -24 : Math.abs(Math.cos(a)) <= 0.3 ? 0 : 24)}
                y={y + (Math.abs(Math.cos(a)) <= 0.3 ? (below ? 34 : -24) : 4)}
                text-anchor={anchorRight ? "end" : Math.abs(Math.cos(a)) <= 0.3 ? "middle" : "start"}
                font-size="12"
                fill="#1d2430"
              >
                <tspan font-weight="700">{hostOf(peer.url)}</tspan>
                <tspan dx="6" fill="#5a6474">
                  {shortId(peer.atom_id)}
                </tspan>
              </text>
            </g>
          );
        })}
        <circle cx={CX} cy={CY} r={32} fill="#1f5fbf">
          <title>{`${t("topology.self")}: ${p.topology.self.url ?? ""} (${p.topology.self.atom_id})`}</title>
        </circle>
        <text x={CX} y={CY + 4} text-anchor="middle" font-size="10" font-weight="700" fill="#fff">
          {shortId(p.topology.self.atom_id)}
        </text>
        <text x={CX} y={CY + 48} text-anchor="middle" font-size="12" font-weight="700" fill="#1d2430">
          {t("topology.self")}
        </text>
      </svg>
      <figcaption class="muted" style={{ display: "flex", gap: "1rem", flexWrap: "wrap", justifyContent: "center" }} aria-label={t("topology.legend")}>
        {(["lan", "metro", "wan"] as const).map((c) => (
          <span key={c}>
            <span aria-hidden="true" style={{ display: "inline-block", width: "1.5rem", height: "3px", background: COLORS[c], verticalAlign: "middle", marginRight: "0.35rem" }} />
            {t(`topology.type.${c}`)}
          </span>
        ))}
        <span>
          <span aria-hidden="true" style={{ display: "inline-block", width: "1.5rem", borderTop: `2px dashed ${COLORS.none}`, verticalAlign: "middle", marginRight: "0.35rem" }} />
          {t("topology.unreachable")}
        </span>
      </figcaption>
    </figure>
  );
}
