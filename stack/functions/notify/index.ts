// notify (seed 4.1.6): drains the notification outbox that triggers on likes, comments and
// follows fill (migration 0011). Invoked by service_role only: as a database webhook would
// (POST {"record": {"id": <outbox id>}}: that event) or as a drain loop (POST {} or
// {"limit": n}: pending events in order, batch by batch, until none is left or the wall time
// nears its end). Each batch is one transaction: the events are locked (skip locked, so
// concurrent drains share the work), judged, delivered or withheld, and marked processed
// together; a drain killed mid-batch leaves the batch pending, a delivery is unique per event.
//
// An event reaches its recipient only if, when it is delivered, (docs/access-decisions.md D30)
//   - no block exists between actor and recipient, either way;
//   - the recipient, as themselves (RLS), may read the row the event is about;
//   - the recipient, as themselves, may see the actor's profile.
import type { Call } from "../_shared/context.ts";
import { actAs, asCaller, type Tx, userClaims } from "../_shared/db.ts";
import { HttpError, json } from "../_shared/http.ts";
import type { Claims } from "../_shared/jwt.ts";

export const methods = ["POST"] as const;

const BATCH = 50;

interface Event {
  id: string;
  kind: string;
  actor_id: string;
  recipient_id: string;
  source_table: string;
  source_id: string | null;
}

function requested(body: unknown): { ids: string[] | null; limit: number } {
  const b = (body ?? {}) as Record<string, unknown>;
  const record = b.record as Record<string, unknown> | undefined;
  const limit = typeof b.limit === "number" && b.limit > 0 ? Math.min(b.limit, 10_000) : 10_000;
  if (record && (typeof record.id === "number" || typeof record.id === "string")) {
    return { ids: [String(record.id)], limit };
  }
  return { ids: null, limit };
}

async function sourceVisible(tx: Tx, e: Event): Promise<boolean> {
  const rows = e.source_table === "follows"
    ? await tx`select 1 from public.follows
               where (follower_id = ${e.actor_id} and followee_id = ${e.recipient_id})
                  or (follower_id = ${e.recipient_id} and followee_id = ${e.actor_id})`
    : e.source_table === "likes"
    ? await tx`select 1 from public.likes where id = ${e.source_id}`
    : await tx`select 1 from public.comments where id = ${e.source_id}`;
  return rows.length > 0;
}

async function deliverable(tx: Tx, e: Event, service: Claims): Promise<boolean> {
  const [block] = await tx`select private.has_block(${e.actor_id}, ${e.recipient_id}) as blocked`;
  if (block.blocked) return false;
  await actAs(tx, userClaims(e.recipient_id));
  try {
    const [actor] = await tx`select 1 from public.profiles where id = ${e.actor_id}`;
    return actor !== undefined && await sourceVisible(tx, e);
  } finally {
    await actAs(tx, service);
  }
}

async function drainBatch(
  claims: Claims,
  deadlineMs: number,
  ids: string[] | null,
  size: number,
): Promise<{ delivered: number; withheld: number; seen: number }> {
  return await asCaller(claims, deadlineMs, async (tx) => {
    const events = ids === null
      ? await tx<Event[]>`select id::text, kind, actor_id, recipient_id, source_table, source_id
                          from private.notification_outbox where processed_at is null
                          order by id limit ${size} for update skip locked`
      : await tx<Event[]>`select id::text, kind, actor_id, recipient_id, source_table, source_id
                          from private.notification_outbox
                          where processed_at is null and id = any(${ids}::bigint[])
                          order by id for update skip locked`;
    let delivered = 0;
    for (const e of events) {
      const ok = await deliverable(tx, e, claims);
      if (ok) {
        const inserted = await tx`
          insert into private.notifications (event_id, recipient_id, actor_id, kind, source_id)
          values (${e.id}, ${e.recipient_id}, ${e.actor_id}, ${e.kind}, ${e.source_id})
          on conflict (event_id) do nothing returning id`;
        delivered += inserted.length;
      }
      await tx`update private.notification_outbox
               set processed_at = now(), outcome = ${ok ? "delivered" : "withheld"}
               where id = ${e.id}`;
    }
    return { delivered, withheld: events.length - delivered, seen: events.length };
  });
}

export async function handle(call: Call): Promise<Response> {
  const { claims } = call;
  if (claims.role !== "service_role") {
    throw new HttpError(403, "service_only", "notify is run by the stack (service role) only");
  }
  const { ids, limit } = requested(call.body);
  const started = performance.now();
  const totals = { processed: 0, delivered: 0, withheld: 0 };
  while (totals.processed < limit) {
    const left = call.deadlineMs - (performance.now() - started);
    if (left < 500) break;
    const batch = await drainBatch(claims, left - 250, ids, Math.min(BATCH, limit - totals.processed));
    totals.processed += batch.seen;
    totals.delivered += batch.delivered;
    totals.withheld += batch.withheld;
    if (batch.seen === 0 || ids !== null) break;
  }
  return json(200, totals);
}
