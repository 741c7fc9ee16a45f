// What a function module exports and what it is handed per request.
import type { Claims } from "./jwt.ts";

export interface Call {
  request: Request;
  url: URL;
  /** The path below the function's name, e.g. "" or "/inbox". */
  subpath: string;
  claims: Claims;
  /** The parsed JSON body (null when there was none). */
  body: unknown;
  /** Milliseconds left before the main service answers 504 on this request. */
  deadlineMs: number;
}

export interface FunctionModule {
  /** HTTP methods the function answers (OPTIONS is the main service's). */
  methods: readonly string[];
  handle: (call: Call) => Promise<Response>;
}
