// export-my-data (GDPR/CCPA access, seed 5.2.5): everything the caller owns or wrote, as one
// JSON document, read as the caller (RLS decides). Only a signed-in user exports, and only
// from an aal2 session (docs/access-decisions.md, D28): the export holds the account's
// recovery data (sober-since date), its social graph and its blocks.
import type { Call } from "../_shared/context.ts";
import { asCaller } from "../_shared/db.ts";
import { HttpError, json } from "../_shared/http.ts";

export const methods = ["GET", "POST"] as const;

export const FORMAT = "sobertube-export/1";

export async function handle(call: Call): Promise<Response> {
  const { claims } = call;
  if (claims.role !== "authenticated" || !claims.sub) {
    throw new HttpError(403, "user_required", "only a signed-in user exports their data");
  }
  if (claims.aal !== "aal2") {
    throw new HttpError(403, "aal2_required", "exporting needs a session that passed a second factor");
  }
  const me = claims.sub;
  const document = await asCaller(claims, call.deadlineMs, async (tx) => {
    const [profile] = await tx`
      select id, handle, display_name, bio, privacy, sober_since::text as sober_since,
             time_zone, created_at, updated_at
      from public.profiles where id = ${me}`;
    const posts = await tx`
      select id, body, hidden_at, created_at, updated_at
      from public.posts where author_id = ${me} order by created_at, id`;
    const videos = await tx`
      select id, title, description, storage_path, hidden_at, created_at, updated_at
      from public.videos where owner_id = ${me} order by created_at, id`;
    const comments = await tx`
      select id, post_id, video_id, body, created_at, updated_at
      from public.comments where author_id = ${me} order by created_at, id`;
    const likes = await tx`
      select id, post_id, video_id, created_at
      from public.likes where user_id = ${me} order by created_at, id`;
    const following = await tx`
      select follower_id, followee_id, status, created_at
      from public.follows where follower_id = ${me} order by followee_id`;
    const followers = await tx`
      select follower_id, followee_id, status, created_at
      from public.follows where followee_id = ${me} order by follower_id`;
    const blocks = await tx`
      select blocker_id, blocked_id, created_at
      from public.blocks where blocker_id = ${me} order by blocked_id`;
    const deletionRequests = await tx`
      select user_id, requested_at
      from public.account_deletion_requests where user_id = ${me}`;
    const objects = await tx`
      select bucket_id as bucket, name, created_at
      from storage.objects where split_part(name, '/', 1) = ${me} order by bucket_id, name`;
    return {
      format: FORMAT,
      user_id: me,
      exported_at: new Date().toISOString(),
      profile: profile ?? null,
      posts,
      videos,
      comments,
      likes,
      follows: { following, followers },
      blocks,
      account_deletion_requests: deletionRequests,
      storage_objects: objects,
    };
  });
  return json(200, document);
}
