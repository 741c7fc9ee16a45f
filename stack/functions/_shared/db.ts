// PostgreSQL as the caller, the way PostgREST does it: one transaction per request, the API
// role of the token (`set local role`), the token's claims in `request.jwt.claims`
// (transaction-local), and a statement timeout no longer than the request's wall time. RLS
// decides what the caller reads and writes.
import postgres from "npm:postgres@3.4.10";
import type { Claims } from "./jwt.ts";
import { HttpError } from "./http.ts";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

// Role names come from this table only: they are written into SQL as identifiers.
const ROLE_SQL: Record<Claims["role"], string> = {
  anon: "anon",
  authenticated: "authenticated",
  service_role: "service_role",
};

let pool: Sql | null = null;

/** The URL and TLS options for postgres.js. It reads `sslmode` but not libpq's `sslrootcert`
 * (it would send that to the server as a setting, which refuses it): a URL naming a CA file
 * (the stack's `sslmode=verify-full&sslrootcert=...`) verifies the server against that CA
 * and the URL's host name. */
export function tlsOf(raw: string): { url: string; ssl?: { ca: string } } {
  const url = new URL(raw);
  const caFile = url.searchParams.get("sslrootcert");
  if (caFile === null) return { url: raw };
  const mode = url.searchParams.get("sslmode");
  if (mode !== "verify-full") {
    throw new HttpError(500, "not_configured", `SUPABASE_DB_URL: sslrootcert needs sslmode=verify-full, not ${mode}`);
  }
  url.searchParams.delete("sslrootcert");
  url.searchParams.delete("sslmode");
  return { url: url.toString(), ssl: { ca: Deno.readTextFileSync(caFile) } };
}

/** The connection pool to SUPABASE_DB_URL (a login role that may switch to the API roles). */
export function database(): Sql {
  if (pool === null) {
    const raw = Deno.env.get("SUPABASE_DB_URL");
    if (!raw) throw new HttpError(500, "not_configured", "SUPABASE_DB_URL is not set");
    const { url, ssl } = tlsOf(raw);
    pool = postgres(url, {
      max: Number(Deno.env.get("FUNCTIONS_DB_POOL") ?? "4"),
      idle_timeout: 30,
      connect_timeout: 10,
      onnotice: () => {},
      ...(ssl ? { ssl } : {}),
    });
  }
  return pool;
}

/** Switch the current transaction to `claims`' role and claims (also mid-transaction). */
export async function actAs(tx: Tx, claims: Claims): Promise<void> {
  await tx.unsafe(`set local role ${ROLE_SQL[claims.role]}`);
  await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
}

/** Run `work` in one transaction as the caller; the transaction ends within `timeoutMs`. */
export function asCaller<T>(claims: Claims, timeoutMs: number, work: (tx: Tx) => Promise<T>): Promise<T> {
  const ms = String(Math.max(1, Math.floor(timeoutMs)));
  return database().begin(async (tx) => {
    await tx`select set_config('statement_timeout', ${ms}, true),
                    set_config('lock_timeout', ${ms}, true)`;
    await actAs(tx, claims);
    return await work(tx);
  }) as Promise<T>;
}

/** Claims for acting as a given user (notify checks what a recipient may read). */
export function userClaims(sub: string): Claims {
  return {
    role: "authenticated",
    sub,
    aud: "authenticated",
    aal: "aal1",
    exp: Math.floor(Date.now() / 1000) + 60,
    app_metadata: {},
  };
}
