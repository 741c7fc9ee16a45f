"""Operations proven live: monitoring end to end (Prometheus, Alertmanager and the exporters of
the stack, run here on 127.0.0.1) and audit logging (pgaudit)."""
