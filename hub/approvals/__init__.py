"""Approvals: a human decides a queued call, and the approved call runs through the spine."""
