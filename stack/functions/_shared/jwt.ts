// JWT verification as the edge runtime's `verify_jwt` does it, with the rules pinned:
// HS256 only (the header's `alg` is never trusted: `none`, other HMACs and RSA are refused),
// a valid signature with the stack's JWT secret, an expiry in the future, `nbf` (when
// present) in the past, a role the database knows, and the audience `authenticated` for
// user tokens. The stack's API keys (roles anon and service_role) carry no audience; a token
// that names one must name `authenticated` (docs/access-decisions.md, D27).

export type Claims = Record<string, unknown> & {
  role: "anon" | "authenticated" | "service_role";
  sub?: string;
  aal?: string;
  exp: number;
};

export class JwtRefused extends Error {}

const ROLES = new Set(["anon", "authenticated", "service_role"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function key(secret: string): Promise<CryptoKey> {
  let found = keys.get(secret);
  if (!found) {
    found = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    keys.set(secret, found);
  }
  return found;
}

function base64url(part: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new JwtRefused("token is not base64url");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") +
    "=".repeat((4 - (part.length % 4)) % 4);
  const raw = atob(padded);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(base64url(part)));
  } catch {
    throw new JwtRefused(`token ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtRefused(`token ${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function audiences(aud: unknown): string[] | null {
  if (aud === undefined) return null;
  if (typeof aud === "string") return [aud];
  if (Array.isArray(aud) && aud.every((a) => typeof a === "string")) return aud as string[];
  throw new JwtRefused("token audience is malformed");
}

/** The verified claims of `token`, or JwtRefused saying why not. */
export async function verifyJwt(token: string, secret: string, nowSeconds: number): Promise<Claims> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtRefused("token is not a signed JWT");
  const header = jsonPart(parts[0], "header");
  if (header.alg !== "HS256") throw new JwtRefused(`token algorithm ${String(header.alg)} is refused`);
  if (header.typ !== undefined && header.typ !== "JWT") throw new JwtRefused("token type is not JWT");
  const signature = base64url(parts[2]);
  const signed = encoder.encode(`${parts[0]}.${parts[1]}`);
  if (!(await crypto.subtle.verify("HMAC", await key(secret), signature, signed))) {
    throw new JwtRefused("token signature is invalid");
  }
  const claims = jsonPart(parts[1], "payload");
  if (typeof claims.exp !== "number") throw new JwtRefused("token has no expiry");
  if (claims.exp <= nowSeconds) throw new JwtRefused("token has expired");
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > nowSeconds)) {
    throw new JwtRefused("token is not valid yet");
  }
  if (typeof claims.role !== "string" || !ROLES.has(claims.role)) {
    throw new JwtRefused("token role is not one the stack knows");
  }
  const aud = audiences(claims.aud);
  if (aud !== null && !aud.includes("authenticated")) {
    throw new JwtRefused("token audience is not authenticated");
  }
  if (claims.role === "authenticated") {
    if (aud === null) throw new JwtRefused("user token has no audience");
    if (typeof claims.sub !== "string" || !UUID.test(claims.sub)) {
      throw new JwtRefused("user token has no user id");
    }
  }
  return claims as Claims;
}
