// The main service, as the edge runtime runs one (`edge-runtime start --main-service
// /home/deno/functions/main`; plain `deno serve` or `deno run` here): it routes
// /<function-name>[/...] to the module stack/functions/<function-name>/index.ts and does what
// every function needs once, before the function runs:
//   - CORS: OPTIONS is answered 204 with the CORS headers, every answer carries them;
//   - JWT: Authorization: Bearer <token>, verified with JWT_SECRET (see _shared/jwt.ts);
//     no token or a refused one is 401 and the function never runs;
//   - limits: a body above FUNCTIONS_MAX_BODY_BYTES is 413, a request still running after
//     FUNCTIONS_WALL_TIME_MS is 504 (its transaction ends by its statement timeout);
//   - one error shape ({"error": {"code", "message"}}, _shared/http.ts);
//   - metrics: GET /metrics, per function (request count by status, 5xx count, latency).
// GET / lists the functions; GET /openapi.json describes them (main/openapi.json); GET /versions
// gives each part's deployed version (manifest.json, see soberharness/targets/services/functions_release.py).
import type { Call, FunctionModule } from "../_shared/context.ts";
import { errorResponse, HttpError, json, preflight } from "../_shared/http.ts";
import { type Claims, JwtRefused, verifyJwt } from "../_shared/jwt.ts";
import { observe, render } from "../_shared/metrics.ts";

const FUNCTIONS_DIR = new URL(
  Deno.env.get("FUNCTIONS_DIR")?.replace(/\/?$/, "/").replace(/^(?=\/)/, "file://") ?? "../",
  import.meta.url,
);
const MAX_BODY = Number(Deno.env.get("FUNCTIONS_MAX_BODY_BYTES") ?? 1048576);
const WALL_MS = Number(Deno.env.get("FUNCTIONS_WALL_TIME_MS") ?? 10000);
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const RESERVED = new Set(["main", "metrics", "openapi.json", "versions"]);

const modules = new Map<string, Promise<FunctionModule | null>>();

function load(name: string): Promise<FunctionModule | null> {
  let found = modules.get(name);
  if (!found) {
    const url = new URL(`${name}/index.ts`, FUNCTIONS_DIR);
    found = Deno.stat(url).then(
      () => import(url.href) as Promise<FunctionModule>,
      () => null,
    );
    modules.set(name, found);
  }
  return found;
}

async function functionNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(FUNCTIONS_DIR)) {
    if (entry.isDirectory && NAME.test(entry.name) && !RESERVED.has(entry.name)) {
      try {
        await Deno.stat(new URL(`${entry.name}/index.ts`, FUNCTIONS_DIR));
        names.push(entry.name);
      } catch {
        // a folder without index.ts is no function
      }
    }
  }
  return names.sort();
}

async function claimsOf(request: Request): Promise<Claims> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new HttpError(401, "missing_token", "an Authorization: Bearer token is required");
  const secret = Deno.env.get("JWT_SECRET");
  if (!secret) throw new HttpError(500, "not_configured", "JWT_SECRET is not set");
  try {
    return await verifyJwt(match[1], secret, Math.floor(Date.now() / 1000));
  } catch (err) {
    if (err instanceof JwtRefused) throw new HttpError(401, "invalid_token", err.message);
    throw err;
  }
}

async function bodyOf(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY) throw new HttpError(413, "body_too_large", `the body is above ${MAX_BODY} bytes`);
  if (request.body === null) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > MAX_BODY) throw new HttpError(413, "body_too_large", `the body is above ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return null;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not JSON");
  }
}

// PostgreSQL errors a caller may cause, by SQLSTATE; anything else is a 500 without detail.
const SQLSTATE: Record<string, [number, string]> = {
  "42501": [403, "forbidden"],
  "57014": [504, "wall_time_exceeded"],
  "55P03": [504, "wall_time_exceeded"],
  "23505": [409, "conflict"],
  "22P02": [400, "invalid_input"],
  "22007": [400, "invalid_input"],
  "23503": [409, "conflict"],
};

function failure(err: unknown, fn: string): Response {
  if (err instanceof HttpError) return errorResponse(err.status, err.code, err.message);
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code in SQLSTATE) {
    const [status, name] = SQLSTATE[code];
    return errorResponse(status, name, `the database refused the request (${code})`);
  }
  console.error(`function ${fn} failed:`, err);
  return errorResponse(500, "internal", "the function failed");
}

async function runFunction(fn: string, request: Request, url: URL, started: number): Promise<Response> {
  const module = await load(fn);
  if (module === null) return errorResponse(404, "function_not_found", `no function named ${fn}`);
  if (!module.methods.includes(request.method)) {
    return errorResponse(405, "method_not_allowed", `${fn} answers ${module.methods.join(", ")}`);
  }
  const claims = await claimsOf(request);
  const body = await bodyOf(request);
  const call: Call = {
    request,
    url,
    subpath: url.pathname.slice(fn.length + 1).replace(/\/$/, ""),
    claims,
    body,
    deadlineMs: WALL_MS - (performance.now() - started),
  };
  return await module.handle(call);
}

async function withWallTime(fn: string, work: Promise<Response>): Promise<Response> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Response>((resolve) => {
    timer = setTimeout(
      () => resolve(errorResponse(504, "wall_time_exceeded", `${fn} ran longer than ${WALL_MS} ms`)),
      WALL_MS,
    );
  });
  try {
    return await Promise.race([work.catch((err) => failure(err, fn)), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The request's URL, or null when its Host header cannot form one (the runtime builds
 * `request.url` from it, and `new URL` throws on a host such as `a<b`). */
function requestUrl(request: Request): URL | null {
  try {
    return new URL(request.url);
  } catch {
    return null;
  }
}

export async function handle(request: Request): Promise<Response> {
  const url = requestUrl(request);
  if (url === null) return errorResponse(400, "bad_request", "the Host header does not form a URL");
  const fn = url.pathname.split("/").filter(Boolean)[0] ?? "";
  if (request.method === "OPTIONS") return preflight();
  if (fn === "") return json(200, { service: "main", functions: await functionNames() });
  if (fn === "metrics" && request.method === "GET") {
    return new Response(render(), { headers: { "content-type": "text/plain; version=0.0.4" } });
  }
  if (fn === "versions" && request.method === "GET") {
    const manifest = JSON.parse(await Deno.readTextFile(new URL("manifest.json", FUNCTIONS_DIR)));
    const versions = Object.fromEntries(
      Object.entries(manifest.parts as Record<string, { version: string }>).map(([k, v]) => [k, v.version]),
    );
    return json(200, { versions });
  }
  if (fn === "openapi.json" && request.method === "GET") {
    return json(200, JSON.parse(await Deno.readTextFile(new URL("main/openapi.json", FUNCTIONS_DIR))));
  }
  if (!NAME.test(fn) || RESERVED.has(fn)) {
    return errorResponse(404, "function_not_found", "no such function");
  }
  const started = performance.now();
  const response = await withWallTime(fn, runFunction(fn, request, url, started));
  if (await load(fn)) observe(fn, response.status, (performance.now() - started) / 1000);
  return response;
}

if (import.meta.main) {
  // A database that goes away mid-query (a restart) can make the PostgreSQL client throw from
  // its socket callbacks, outside any request: log it and keep serving (the pool reconnects).
  globalThis.addEventListener("error", (event) => {
    console.error("uncaught error:", event.error);
    event.preventDefault();
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    console.error("unhandled rejection:", event.reason);
    event.preventDefault();
  });
  const port = Number(Deno.env.get("PORT") ?? "9000");
  Deno.serve({ port, hostname: Deno.env.get("HOST") ?? "0.0.0.0" }, handle);
}
