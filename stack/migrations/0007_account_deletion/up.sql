-- Account deletion requests: a user asks for their own account to go, and only from a session
-- that passed a second factor (token claim aal = 'aal2'). Processing is service_role's job.

create table public.account_deletion_requests (
  user_id uuid primary key references public.profiles (id) on delete cascade,
  requested_at timestamptz not null default now()
);
alter table public.account_deletion_requests enable row level security;

revoke all on public.account_deletion_requests from anon, authenticated, service_role;
grant select on public.account_deletion_requests to anon;
grant select, insert on public.account_deletion_requests to authenticated;
grant all on public.account_deletion_requests to service_role;

create policy account_deletion_requests_select_own on public.account_deletion_requests
  for select to authenticated
  using (user_id = (select auth.uid()));
create policy account_deletion_requests_insert_own_aal2 on public.account_deletion_requests
  for insert to authenticated
  with check (user_id = (select auth.uid()) and (select auth.jwt() ->> 'aal') = 'aal2');
