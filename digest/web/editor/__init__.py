"""The editor's desk under /editor/, behind a login: the calendar, each digest's page with its
curating controls and previews, accounts; each route guarded by the permission it needs."""

from digest.web.editor.routes import mount

__all__ = ["mount"]
