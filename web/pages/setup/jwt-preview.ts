/**
 * Reads a license JWT's payload in the browser, for the preview only: nothing is verified here
 * (the pool verifies the Ed25519 signature offline when the license is activated).
 */
export interface LicensePreview {
  clientId?: string | undefined;
  tier?: string | undefined;
  expiresAt?: Date | undefined;
  features: string[];
  limits: Record<string, number | string>;
}

function base64UrlDecode(s: string): string {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The payload's fields, or an error reason. */
export function previewLicense(token: string): { ok: true; preview: LicensePreview } | { ok: false; reason: string } {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return { ok: false, reason: "expected three dot-separated parts" };
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]!)) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: "unreadable payload" };
  }
  if (!payload || typeof payload !== "object") return { ok: false, reason: "unreadable payload" };
  const features = Array.isArray(payload.features) ? payload.features.map(String) : payload.features && typeof payload.features === "object" ? Object.keys(payload.features) : [];
  const limits: Record<string, number | string> = {};
  if (payload.limits && typeof payload.limits === "object") for (const [k, v] of Object.entries(payload.limits as Record<string, unknown>)) limits[k] = typeof v === "number" ? v : String(v);
  return {
    ok: true,
    preview: {
      clientId: typeof payload.client_id === "string" ? payload.client_id : undefined,
      tier: typeof payload.tier === "string" ? payload.tier : undefined,
      expiresAt: typeof payload.exp === "number" ? new Date(payload.exp * 1000) : undefined,
      features,
      limits,
    },
  };
}
