// One error shape for every function and the main service, CORS headers, JSON answers.
//   {"error": {"code": "<snake_case>", "message": "<one line>"}}
// with the HTTP status saying the class (400, 401, 403, 404, 405, 413, 500, 504).

export const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-max-age": "86400",
};

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...CORS_HEADERS, ...headers },
  });
}

export function errorResponse(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

export function preflight(): Response {
  return new Response(null, { status: 204, headers: CORS_HEADERS });
}
