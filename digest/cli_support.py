"""What every command module of the command line shares: how a command gets its Context."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from digest.context import Context

OpenContext = Callable[[argparse.Namespace], Context]
Command = Callable[[Context, argparse.Namespace], int]


def with_context(open_context: OpenContext, run: Command) -> Callable[[argparse.Namespace], int]:
    """The argparse handler of a command that runs in an opened Context, closed after it."""

    def call(args: argparse.Namespace) -> int:
        ctx = open_context(args)
        try:
            return run(ctx, args)
        finally:
            ctx.close()

    return call
