"""The public side: subscribe, confirm, preferences, unsubscribe, the archive, tracked links."""

from starlette.routing import Router

from digest.web.public import archive, preferences, redirects, subscribe, unsubscribe

router = Router(
    routes=[
        *archive.routes,
        *subscribe.routes,
        *preferences.routes,
        *unsubscribe.routes,
        *redirects.routes,
    ]
)

__all__ = ["router"]
