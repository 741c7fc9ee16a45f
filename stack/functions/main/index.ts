// The edge runtime's main service (stack/compose/docker-compose.yml starts
// `edge-runtime start --main-service /home/deno/functions/main`; stack/k8s mounts the same
// file). SoberTube has no edge functions yet: every request gets a small JSON answer naming
// the function path it asked for, so the gateway route /functions/v1/ can be checked.
const port = Number(Deno.env.get("PORT") ?? "9000");

export function handle(request: Request): Response {
  const path = new URL(request.url).pathname;
  const name = path.split("/").filter(Boolean)[0] ?? null;
  const status = name === null ? 200 : 404;
  const body = name === null
    ? { service: "main", functions: [] }
    : { error: "function not found", name };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

Deno.serve({ port, hostname: Deno.env.get("HOST") ?? "0.0.0.0" }, handle);
