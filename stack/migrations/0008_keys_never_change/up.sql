-- A row's identity (its primary key) never changes, for any role, service_role included:
-- "id never changes" (access rules, profiles) extended to every table. The column guards of
-- 0001-0003 cover API roles only; this trigger holds for everyone.

create function private.refuse_key_change() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
declare
  col text;
  old_row jsonb := to_jsonb(old);
  new_row jsonb := to_jsonb(new);
begin
  foreach col in array tg_argv loop
    if old_row -> col is distinct from new_row -> col then
      raise exception using errcode = '42501',
        message = format('%s: the key column %s never changes', tg_table_name, col);
    end if;
  end loop;
  return new;
end
$fn$;

create trigger key_never_changes before update on public.profiles
  for each row execute function private.refuse_key_change('id');
create trigger key_never_changes before update on public.follows
  for each row execute function private.refuse_key_change('follower_id', 'followee_id');
create trigger key_never_changes before update on public.blocks
  for each row execute function private.refuse_key_change('blocker_id', 'blocked_id');
create trigger key_never_changes before update on public.posts
  for each row execute function private.refuse_key_change('id');
create trigger key_never_changes before update on public.videos
  for each row execute function private.refuse_key_change('id');
create trigger key_never_changes before update on public.comments
  for each row execute function private.refuse_key_change('id');
create trigger key_never_changes before update on public.likes
  for each row execute function private.refuse_key_change('id');
