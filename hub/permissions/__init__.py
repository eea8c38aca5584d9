"""Permissions: policy rules as data, the gate in the call spine, the authorization queue."""
