"""What actors do: requests as PostgREST and the Storage API run them, subscriptions, uploads."""
