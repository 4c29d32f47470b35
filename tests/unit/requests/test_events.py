"""The audit log's event kinds: one enum, and no kind written as a loose string in bot/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot
from bot.db.models import RequestEvent
from bot.requests.events import EventKind, refused_kind

BOT = Path(bot.__file__).resolve().parent

# The helpers that write a request_events row, whose arguments name its kind.
EVENT_WRITERS = frozenset(
    {"add_event", "add_batch_event", "child_events", "record_event", "_event", "_record"}
)

# The kinds CONTRACT.md (README "The audit log") documents: their values never change.
DOCUMENTED = [
    *("denied", "submitted", "posted", "approval", "approved", "approve_refused"),
    *("reject_refused", "rejected", "expired", "zoom_called", "reconciled", "requeued"),
    *("zoom_result", "notified", "post_failed", "reminded", "escalated", "request_again"),
    *("request_again_refused", "ops_alerted", "exported", "export_failed", "export_refused"),
    *("slack_delivery", "reaction_held", "outcome_posted", "passwords_sent", "passwords_not_sent"),
]


def test_the_values_are_unique_and_fit_the_column():
    values = [kind.value for kind in EventKind]
    assert len(values) == len(set(values))
    width = RequestEvent.__table__.c.kind.type.length
    assert width == 48
    assert all(0 < len(value) <= width for value in values)
    assert all(value == value.lower() and " " not in value for value in values)


@pytest.mark.parametrize("value", DOCUMENTED)
def test_every_documented_kind_is_a_member_with_its_value(value):
    assert EventKind(value) == value
    assert str(EventKind(value)) == value


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("approve", EventKind.APPROVE_REFUSED),
        ("reject", EventKind.REJECT_REFUSED),
        ("request_again", EventKind.REQUEST_AGAIN_REFUSED),
        ("export", EventKind.EXPORT_REFUSED),
    ],
)
def test_refused_kind_is_the_action_followed_by_refused(action, kind):
    assert refused_kind(action) is kind
    assert refused_kind(action) == f"{action}_refused"


def test_refused_kind_of_an_unknown_action_raises():
    with pytest.raises(ValueError, match="launch_refused"):
        refused_kind("launch")


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _called_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _on_kind(func: ast.expr) -> bool:
    """`x.kind.in_`, `x.kind.not_in`: a method of an attribute named kind."""
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("in_", "not_in")
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "kind"
    )


def loose_kinds(source: str) -> list[tuple[int, str]]:
    """(line, code) of each string literal given as an event kind: `kind="..."`, a `"kind"`
    key, a positional string to a helper that writes an event, or `x.kind == "..."` /
    `x.kind.in_(("...",))`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        texts: list[ast.expr] = []
        if isinstance(node, ast.keyword) and node.arg == "kind":
            texts = [node.value]
        elif isinstance(node, ast.Dict):
            texts = [
                value
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "kind"
            ]
        elif isinstance(node, ast.Call) and _called_name(node) in EVENT_WRITERS:
            texts = list(node.args)
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):
            if node.left.attr == "kind":
                texts = list(node.comparators)
        elif isinstance(node, ast.Call) and _on_kind(node.func):
            texts = [
                each
                for arg in node.args
                for each in (arg.elts if isinstance(arg, ast.Tuple | ast.List) else [arg])
            ]
        found += [(text.lineno, ast.unparse(text)) for text in texts if _is_text(text)]
    return found


def test_no_event_kind_is_a_loose_string_in_bot():
    loose = {
        f"{path.relative_to(BOT)}:{line}: {code}"
        for path in sorted(BOT.rglob("*.py"))
        for line, code in loose_kinds(path.read_text(encoding="utf-8"))
    }
    assert not loose, "use bot.requests.events.EventKind:\n" + "\n".join(sorted(loose))


@pytest.mark.parametrize(
    "source",
    [
        'add_event(s, request_id=1, kind="approved")',
        'add_batch_event(s, batch_id=1, kind=f"{action}_refused")',
        'rows = [{"request_id": 1, "kind": "approval"}]',
        'self._record(session, 1, "notified", {})',
        '_event(1, "posted", actor_id=None, detail={})',
        'select(RequestEvent).where(RequestEvent.kind == "zoom_result")',
        'select(RequestEvent).where(RequestEvent.kind.in_(("zoom_result", "requeued")))',
    ],
)
def test_the_scan_finds_a_loose_kind(source):
    assert loose_kinds(source)


@pytest.mark.parametrize(
    "source",
    [
        "add_event(s, request_id=1, kind=EventKind.APPROVED)",
        "add_event(s, request_id=1, kind=STEP_KINDS[step])",
        'rows = [{"request_id": 1, "kind": kind}]',
        "RequestEvent.kind.in_((EventKind.ZOOM_RESULT, EventKind.REQUEUED))",
    ],
)
def test_the_scan_lets_members_through(source):
    assert not loose_kinds(source)
