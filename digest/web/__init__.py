"""The web app (Starlette): public pages for subscribers and the editor's pages.

It reads and writes the store and plans outbox rows; it never imports delivery/: a message the
app wants sent (a confirmation, a test-send) is an outbox row a worker delivers.
"""
