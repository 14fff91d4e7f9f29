"""The public side: subscribe, confirm, preferences, unsubscribe, the archive and its share
cards, tracked links."""

from starlette.routing import Router

from digest.web.public import archive, cards, preferences, redirects, subscribe, unsubscribe

router = Router(
    routes=[
        *redirects.routes,  # first: a send brings thousands of hits a second, matched soonest
        *archive.routes,
        *cards.routes,
        *subscribe.routes,
        *preferences.routes,
        *unsubscribe.routes,
    ]
)

__all__ = ["router"]
