// milestones: the sobriety milestone a user reached, from their profile's sober-since date,
// counted in the user's own time zone (profiles.time_zone, an IANA name; UTC when unknown),
// as a badge for their profile. The profile is read as the caller, so the badge is shown
// exactly to whoever may see the profile (Rest:Profiles); for anyone else the profile does
// not exist (404, as for a user id that names nobody).
//   GET /milestones?user=<uuid>[&at=<ISO instant>]   (user: the caller by default; at: now)
import type { Call } from "../_shared/context.ts";
import { asCaller } from "../_shared/db.ts";
import { HttpError, json } from "../_shared/http.ts";

export const methods = ["GET"] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 86_400_000;

// Milestones by days, then by calendar months, then by years (every year after the first).
const DAY_MILESTONES = [1, 7, 14, 30, 60, 90];
const MONTH_MILESTONES = [6, 9];

interface YMD {
  y: number;
  m: number;
  d: number;
}

function parseDate(text: string): YMD {
  const [y, m, d] = text.split("-").map(Number);
  return { y, m, d };
}

/** The calendar date of `instant` in time zone `zone`. */
export function localDate(instant: Date, zone: string): YMD {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { y: get("year"), m: get("month"), d: get("day") };
}

function dayNumber(date: YMD): number {
  return Date.UTC(date.y, date.m - 1, date.d) / DAY_MS;
}

/** `date` plus `months` calendar months; a day the month lacks becomes its last day. */
function addMonths(date: YMD, months: number): YMD {
  const index = date.y * 12 + (date.m - 1) + months;
  const y = Math.floor(index / 12);
  const m = (index % 12) + 1;
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { y, m, d: Math.min(date.d, last) };
}

function iso(date: YMD): string {
  return `${String(date.y).padStart(4, "0")}-${String(date.m).padStart(2, "0")}-${
    String(date.d).padStart(2, "0")
  }`;
}

export interface Badge {
  key: string;
  label: string;
  reached_on: string;
}

/** The highest milestone reached on `today` by someone sober since `since`; null for none. */
export function milestone(since: YMD, today: YMD): Badge | null {
  const days = dayNumber(today) - dayNumber(since);
  let best: Badge | null = null;
  for (const n of DAY_MILESTONES) {
    if (days >= n) {
      best = {
        key: `days-${n}`,
        label: n === 1 ? "1 day" : `${n} days`,
        reached_on: iso(fromDay(dayNumber(since) + n)),
      };
    }
  }
  const monthsPlus = (n: number) => addMonths(since, n);
  for (const n of MONTH_MILESTONES) {
    const on = monthsPlus(n);
    if (dayNumber(on) <= dayNumber(today)) {
      best = { key: `months-${n}`, label: `${n} months`, reached_on: iso(on) };
    }
  }
  for (let years = 1;; years++) {
    const on = monthsPlus(12 * years);
    if (dayNumber(on) > dayNumber(today)) break;
    best = { key: `years-${years}`, label: years === 1 ? "1 year" : `${years} years`, reached_on: iso(on) };
  }
  return best;
}

function fromDay(day: number): YMD {
  const date = new Date(day * DAY_MS);
  return { y: date.getUTCFullYear(), m: date.getUTCMonth() + 1, d: date.getUTCDate() };
}

function validZone(zone: unknown): string {
  if (typeof zone !== "string") return "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone;
  } catch {
    return "UTC";
  }
}

export async function handle(call: Call): Promise<Response> {
  const { claims, url } = call;
  const user = url.searchParams.get("user") ?? claims.sub;
  if (!user) throw new HttpError(400, "user_required", "name a user (?user=<uuid>)");
  if (!UUID.test(user)) throw new HttpError(400, "invalid_input", "user is not a uuid");
  const atText = url.searchParams.get("at");
  const at = atText === null ? new Date() : new Date(atText);
  if (Number.isNaN(at.getTime())) throw new HttpError(400, "invalid_input", "at is not an ISO instant");
  const [profile] = await asCaller(
    claims,
    call.deadlineMs,
    (tx) =>
      tx`select id, sober_since::text as sober_since, time_zone from public.profiles where id = ${user}`,
  );
  if (!profile) throw new HttpError(404, "profile_not_found", "no profile you may see has this id");
  const zone = validZone(profile.time_zone);
  const today = localDate(at, zone);
  const since = profile.sober_since === null ? null : parseDate(profile.sober_since);
  const badge = since === null || dayNumber(today) < dayNumber(since) ? null : milestone(since, today);
  return json(200, {
    user_id: profile.id,
    sober_since: profile.sober_since,
    time_zone: zone,
    today: iso(today),
    days: since === null ? null : Math.max(0, dayNumber(today) - dayNumber(since)),
    badge,
  });
}
