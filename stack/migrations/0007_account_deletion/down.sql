drop table public.account_deletion_requests;
