// delete-my-account worker (seed 5.2.5): carries out due account-deletion requests
// (public.account_deletion_requests, inserted by users from an aal2 session). Run by
// service_role only (a scheduler calls it): POST {} handles every due request, POST
// {"users": [<uuid>...]} only those users' due requests. A request is due once it is
// FUNCTIONS_DELETION_GRACE_DAYS (default 7) old (docs/access-decisions.md, D29).
//
// Per user, in one transaction (so a worker killed halfway leaves the request to the next run
// and a second run finds nothing to do):
//   1. the user's storage objects (every object in a folder named by their id, both buckets)
//      go, as the Storage API deletes them (storage.allow_delete_query);
//   2. the auth user goes; profiles cascade from auth.users, and with the profile everything
//      that references it: their posts, videos, comments, likes, follows both ways, blocks
//      both ways, the deletion request, outbox events and notifications; others' comments and
//      likes on their posts and videos go with those posts and videos.
// Deleting from auth.users needs the worker's own login role (the API roles hold nothing in
// `auth`): after the caller-scoped reads the transaction resets the role for that statement.
import type { Call } from "../_shared/context.ts";
import { asCaller } from "../_shared/db.ts";
import { HttpError, json } from "../_shared/http.ts";

export const methods = ["POST"] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function onlyUsers(body: unknown): string[] | null {
  const users = (body as Record<string, unknown> | null)?.users;
  if (users === undefined) return null;
  if (!Array.isArray(users) || !users.every((u) => typeof u === "string" && UUID.test(u))) {
    throw new HttpError(400, "invalid_input", "users is a list of user ids");
  }
  return users as string[];
}

export async function handle(call: Call): Promise<Response> {
  const { claims } = call;
  if (claims.role !== "service_role") {
    throw new HttpError(403, "service_only", "the deletion worker is run by the service role only");
  }
  const only = onlyUsers(call.body);
  const grace = String(Number(Deno.env.get("FUNCTIONS_DELETION_GRACE_DAYS") ?? "7"));
  const due = await asCaller(
    claims,
    call.deadlineMs,
    (tx) =>
      only === null
        ? tx`select user_id from public.account_deletion_requests
           where requested_at <= now() - make_interval(days => ${grace}::int) order by requested_at, user_id`
        : tx`select user_id from public.account_deletion_requests
           where requested_at <= now() - make_interval(days => ${grace}::int)
             and user_id = any(${only}::uuid[]) order by requested_at, user_id`,
  );
  const deleted: string[] = [];
  const started = performance.now();
  for (const { user_id: user } of due) {
    const left = call.deadlineMs - (performance.now() - started);
    if (left < 500) break;
    const done = await asCaller(claims, left - 250, async (tx) => {
      const [still] =
        await tx`select 1 from public.account_deletion_requests where user_id = ${user} for update`;
      if (!still) return false; // another worker got there first
      await tx`select set_config('storage.allow_delete_query', 'true', true)`;
      await tx`delete from storage.objects where split_part(name, '/', 1) = ${user}`;
      await tx.unsafe("reset role");
      await tx`delete from auth.users where id = ${user}`;
      return true;
    });
    if (done) deleted.push(user);
  }
  return json(200, { due: due.length, deleted });
}
