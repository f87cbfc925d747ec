/** Reads `exp` from a JWT without verifying it: the SDK schedules by this same claim, so we must too. */

function base64UrlDecode(segment: string): string {
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  return atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
}

/** Milliseconds since the epoch at which the token expires, or null if it is not a JWT with a numeric `exp`. */
export function jwtExpiresOnTimestamp(token: string): number | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const exp = (JSON.parse(base64UrlDecode(parts[1])) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}
