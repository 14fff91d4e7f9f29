"""`file`: one .eml per message in a folder, for previews, demos and tests."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.delivery.email.base import EmailAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail
from digest.settings import Settings


@dataclass(frozen=True, slots=True)
class FileEmailOptions:
    directory: str = "outbox/email"


def safe_file_name(key: str) -> str:
    """A file name made of the key's safe characters; the key is unique, so the name is too."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)


class FileEmailAdapter(EmailAdapter):
    type_name = "file"
    Options = FileEmailOptions
    reaches_recipients = False

    def __init__(self, options: Any, settings: Settings) -> None:
        super().__init__(options, settings)
        self.directory = settings.resolve(options.directory)

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{safe_file_name(message.key)}.eml"
        # Written aside then renamed: a crash leaves no half message, and a redelivery of the
        # same row replaces the file instead of adding a second one.
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(message.data)
        os.replace(partial, path)
        return DeliveryResult(DeliveryStatus.SENT, provider_id=str(Path(path)))
