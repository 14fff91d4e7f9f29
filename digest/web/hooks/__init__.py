"""Incoming provider webhooks under /webhooks/: bounces and complaints from email services, and
the mail they receive for the unsubscribe address."""

from starlette.routing import Router

from digest.web.hooks import inbound, providers

router = Router(routes=[*providers.routes, *inbound.routes])  # mounted at /webhooks

__all__ = ["router"]
