"""The console: server-rendered pages for people (sign-in, approvals, integrations, runs, audit)."""
