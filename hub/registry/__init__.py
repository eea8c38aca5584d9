"""The registry: which integrations and tools exist, loaded from `registry_seed/`."""
