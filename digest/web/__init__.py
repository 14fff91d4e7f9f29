"""The web app (Starlette), one router per audience, mounted by `app.create_app`:

    public/   subscribe, confirm, preferences, one-click unsubscribe, the archive
    editor/   /editor/: login, the desk, previews (behind a login)
    hooks/    /webhooks/: bounces and complaints from email providers

It reads and writes the store and plans outbox rows; it never imports delivery/: a message the
app wants sent (a confirmation, a test-send) is an outbox row a worker delivers.
"""
