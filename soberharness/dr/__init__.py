"""Disaster-recovery drills on the local target: point-in-time restore from an encrypted
pgBackRest repository and streaming-replica failover, each judged by the chaos write ledger."""
