"""The one error type meant for the user.

Anything a user can fix (a bad config key, a missing input, a directory that holds another
run, a synthetic set that was never validated) raises a `UserError` subclass with a one-line
message. The CLI catches `UserError` once: the message on stderr, exit code 2. Every other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; the message is one line and names the file or key at fault."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(UserError):
    """A config file, flag or override that cannot be used (curate, train, synth, declarations)."""


class InputError(UserError):
    """Inputs or directories that cannot be used: a missing path, nothing to read, the wrong kind of run."""


class NotARunError(InputError):
    """A directory without a readable run.json: not an assay output directory (yet)."""
