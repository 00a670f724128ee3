"""The error hierarchy. Only cli.py turns these into exit codes."""

from __future__ import annotations


class PullsecretError(Exception):
    """Base class: the message is one line, safe to show (no secret values)."""


class UsageError(PullsecretError):
    """Bad flags or arguments: exit code 2."""


class SourceError(PullsecretError):
    """The input (cluster or files) could not be read: exit code 3."""


class FixError(PullsecretError):
    """A fix could not be applied (refused, conflicting, invalid result): exit code 1."""
