"""Audit of the access lists: at start, each configured list is compared with the one recorded
last, and a difference becomes one `config_events` row however many instances start at once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db.models import ConfigEvent

logger = logging.getLogger(__name__)

RECORDED = "list_recorded"  # the first time the bot sees a list: the baseline
CHANGED = "list_changed"
# Another instance recording a different list between our read and our insert costs one retry;
# more than a few in a row means instances keep disagreeing, and the next start records it.
_ATTEMPTS = 3


@dataclass(frozen=True)
class ListChange:
    setting: str
    version: int
    kind: str
    added: list[str]
    removed: list[str]


def access_lists(settings: Settings) -> dict[str, list[str]]:
    """The audited lists, named as the operator sets them."""
    return {
        "REQUESTER_ALLOWLIST": settings.requester_allowlist,
        "APPROVER_ALLOWLIST": settings.approver_allowlist,
        "ESCALATION_APPROVERS": settings.escalation_approvers,
    }


def audit_access_lists(factory: sessionmaker[Session], settings: Settings) -> list[ListChange]:
    """Record what changed since the last start. A database failure here must not stop the
    bot: nothing is lost, because the next start compares with the same last recorded set."""
    try:
        changes = record_lists(factory, access_lists(settings))
    except SQLAlchemyError as exc:
        logger.warning("could not audit the access lists (%s)", type(exc).__name__)
        return []
    for change in changes:
        logger.info(
            "%s %s (version %s): added %s, removed %s",
            change.setting,
            "recorded" if change.kind == RECORDED else "changed",
            change.version,
            change.added,
            change.removed,
        )
    return changes


def record_lists(
    factory: sessionmaker[Session], lists: Mapping[str, Iterable[str]]
) -> list[ListChange]:
    changes = []
    for setting, entries in lists.items():
        change = record_list(factory, setting=setting, entries=canonical(entries))
        if change is not None:
            changes.append(change)
    return changes


def canonical(entries: Iterable[str]) -> list[str]:
    """Sorted, without duplicates, emails lower-cased: the allowlist matches them that way, so
    `Ana@x.com` → `ana@x.com` is not a change."""
    return sorted({entry.strip().lower() if "@" in entry else entry.strip() for entry in entries})


def record_list(
    factory: sessionmaker[Session], *, setting: str, entries: list[str]
) -> ListChange | None:
    """The change this call recorded, or None when the list is as last recorded (by anyone)."""
    for _ in range(_ATTEMPTS):
        last = _last_recorded(factory, setting)
        if last is not None and last.entries == entries:
            return None
        change = _diff(setting, entries, last)
        if _insert(factory, change, entries):
            return change
        # Another instance took this version first; compare with what it recorded.
    return None


def _last_recorded(factory: sessionmaker[Session], setting: str) -> ConfigEvent | None:
    with factory() as session:
        return session.scalars(
            select(ConfigEvent)
            .where(ConfigEvent.setting == setting)
            .order_by(ConfigEvent.version.desc())
            .limit(1)
        ).first()


def _diff(setting: str, entries: list[str], last: ConfigEvent | None) -> ListChange:
    before = set(last.entries) if last is not None else set()
    return ListChange(
        setting=setting,
        version=last.version + 1 if last is not None else 1,
        kind=CHANGED if last is not None else RECORDED,
        added=sorted(set(entries) - before),
        removed=sorted(before - set(entries)),
    )


def _insert(factory: sessionmaker[Session], change: ListChange, entries: list[str]) -> bool:
    # The read above and this insert are separate transactions on purpose: a SQLite read
    # transaction cannot be upgraded to a write once another writer has committed.
    try:
        with factory.begin() as session:
            session.add(
                ConfigEvent(
                    setting=change.setting,
                    version=change.version,
                    kind=change.kind,
                    entries=entries,
                    added=change.added,
                    removed=change.removed,
                )
            )
    except IntegrityError:
        return False
    return True
