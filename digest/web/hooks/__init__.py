"""Incoming provider webhooks under /webhooks/: bounces and complaints from email services."""

from starlette.routing import Router

from digest.web.hooks import providers

router = Router(routes=providers.routes)  # mounted at /webhooks

__all__ = ["router"]
