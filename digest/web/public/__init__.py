"""The public side: subscribe, confirm, preferences, unsubscribe and the archive."""

from starlette.routing import Router

from digest.web.public import archive, preferences, subscribe, unsubscribe

router = Router(
    routes=[*archive.routes, *subscribe.routes, *preferences.routes, *unsubscribe.routes]
)

__all__ = ["router"]
