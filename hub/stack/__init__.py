"""The production topology run natively (no Docker): `scripts/stack up|down`.

PostgreSQL, Redis, n8n main plus workers in queue mode, hub replicas, HAProxy and the vendor
sandbox, each a detached process group recorded in ``<dir>/stack.json``; `down` stops exactly
those (a pid is trusted only with its recorded start time, so a reused pid is never hit).
"""
