"""The hub's own n8n: install (pinned, cached), run locally, provision, and talk to it."""

from hub.core.installs import InstallError, cache_root
from hub.n8n.client import N8nClient, N8nError, N8nUnavailable
from hub.n8n.install import N8N_VERSION, NODE_VERSION, N8nInstall, ensure_n8n
from hub.n8n.local import LocalN8n, N8nStartError, generate_encryption_key
from hub.n8n.provision import ProvisionError, provision_owner_and_key

__all__ = [
    "N8N_VERSION",
    "NODE_VERSION",
    "InstallError",
    "LocalN8n",
    "N8nClient",
    "N8nError",
    "N8nInstall",
    "N8nStartError",
    "N8nUnavailable",
    "ProvisionError",
    "cache_root",
    "ensure_n8n",
    "generate_encryption_key",
    "provision_owner_and_key",
]
