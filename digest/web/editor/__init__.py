"""The editor's side under /editor/, behind a login: the desk and its previews."""

from digest.web.editor.desk import mount

__all__ = ["mount"]
