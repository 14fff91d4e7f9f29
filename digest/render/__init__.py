"""Render: pure functions from composed digests to email parts and social posts."""
