"""Dispatch: one module per fix verb (pipx's commands/<verb>.py shape)."""

from __future__ import annotations

import argparse

from kubectl_pullsecret.fixes.model import FixResult
from kubectl_pullsecret.fixes.session import Session


def run(session: Session, args: argparse.Namespace) -> FixResult:
    command: str = args.command
    if command == "fix link":
        from kubectl_pullsecret.fixes import link

        return link.run(session, args.secret, args.sa, args.for_)
    if command == "fix create":
        from kubectl_pullsecret.fixes import create

        return create.run(session, args)
    if command == "fix grant":
        from kubectl_pullsecret.fixes import grant

        return grant.run(session, args.from_namespace, args.sa, args.all_service_accounts)
    if command in ("fix global set", "fix global remove"):
        from kubectl_pullsecret.fixes import globalps

        return globalps.run(session, args)
    if command == "fix restart":
        from kubectl_pullsecret.fixes import restart

        return restart.run(session, args.target)
    from kubectl_pullsecret.fixes import target

    return target.run(session, args)
