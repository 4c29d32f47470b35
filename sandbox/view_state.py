"""`view.state.values` as Slack builds them on a modal's submission: from the open view's input
blocks and the plain values a person entered, with full option objects for selections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

StateValues = dict[str, dict[str, dict[str, Any]]]
Element = dict[str, Any]

_MISSING: Any = object()
_TEXT_TYPES = ("plain_text_input", "email_text_input", "url_text_input", "number_input")
_SINGLE_SELECTS = ("static_select", "radio_buttons")
_MULTI_SELECTS = ("checkboxes", "multi_static_select")
_PICKERS = {"datepicker": "date", "timepicker": "time"}


class UnsupportedInput(ValueError):
    """The view or the entered values cannot be turned into what Slack would send."""


def state_values(view: dict[str, Any], inputs: dict[str, Any]) -> StateValues:
    """`inputs` maps block_id to a plain value: str | None for text inputs, pickers and single
    selects (the option's value), list[str] of option values for checkboxes and multi selects.
    A block left out of `inputs` keeps the element's initial value, as in Slack."""
    blocks = [block for block in view.get("blocks") or [] if block.get("type") == "input"]
    named = {str(block.get("block_id")) for block in blocks}
    stray = sorted(set(inputs) - named)
    if stray:
        raise UnsupportedInput(f"the view has no input block named {', '.join(stray)}")
    values: StateValues = {}
    for index, block in enumerate(blocks, start=1):
        block_id, element = block.get("block_id"), block.get("element") or {}
        action_id = element.get("action_id")
        if not block_id or not action_id:
            # Slack would invent ids the bot could not have known; the bot's views set them.
            raise UnsupportedInput(f"input block #{index} has no block_id or action_id")
        entered = inputs.get(block_id, _MISSING)
        values[block_id] = {action_id: element_state(element, entered, block_id=block_id)}
    return values


def element_state(element: Element, entered: Any, *, block_id: str) -> dict[str, Any]:
    """One element's entry in view.state.values; `entered` is _MISSING for an untouched input."""
    kind = str(element.get("type"))
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise UnsupportedInput(f"the sandbox cannot fill a {kind} input (block {block_id})")
    return {"type": kind, **builder(element, entered, block_id)}


def _text(element: Element, entered: Any, block_id: str) -> dict[str, Any]:
    if entered is _MISSING:
        entered = element.get("initial_value")
    if isinstance(entered, int | float) and not isinstance(entered, bool):
        entered = str(entered)
    if entered is not None and not isinstance(entered, str):
        raise UnsupportedInput(f"{block_id} takes text, not {type(entered).__name__}")
    # An empty input arrives as null, never "".
    return {"value": entered or None}


def _picker(element: Element, entered: Any, block_id: str) -> dict[str, Any]:
    part = _PICKERS[str(element["type"])]
    if entered is _MISSING:
        entered = element.get(f"initial_{part}")
    if entered is not None and not isinstance(entered, str):
        raise UnsupportedInput(f"{block_id} takes a {part} as text")
    return {f"selected_{part}": entered or None}


def _single(element: Element, entered: Any, block_id: str) -> dict[str, Any]:
    if entered is _MISSING:
        return {"selected_option": element.get("initial_option")}
    if entered is None or entered == "":
        return {"selected_option": None}
    if not isinstance(entered, str):
        raise UnsupportedInput(f"{block_id} takes one option value")
    return {"selected_option": _option(element, entered, block_id)}


def _multi(element: Element, entered: Any, block_id: str) -> dict[str, Any]:
    if entered is _MISSING:
        return {"selected_options": list(element.get("initial_options") or [])}
    if entered is None:
        entered = []
    if not isinstance(entered, list) or not all(isinstance(value, str) for value in entered):
        raise UnsupportedInput(f"{block_id} takes a list of option values")
    picked = [_option(element, value, block_id) for value in entered]
    # Slack lists the selection in the options' order, not the clicks' order.
    order = [option.get("value") for option in _options(element)]
    return {"selected_options": sorted(picked, key=lambda option: order.index(option["value"]))}


def _options(element: Element) -> list[dict[str, Any]]:
    grouped = [
        option for group in element.get("option_groups") or [] for option in group["options"]
    ]
    return [*(element.get("options") or []), *grouped]


def _option(element: Element, value: str, block_id: str) -> dict[str, Any]:
    for option in _options(element):
        if option.get("value") == value:
            return dict(option)
    raise UnsupportedInput(f"{value!r} is not one of the options of {block_id}")


def _files(_element: Element, entered: Any, block_id: str) -> dict[str, Any]:
    """A file_input: the ids of files the person uploaded (SlackEmulator.add_file); none → []."""
    if entered is _MISSING or entered is None:
        return {"files": []}
    if not isinstance(entered, list) or not all(isinstance(item, str) for item in entered):
        raise UnsupportedInput(f"{block_id} takes a list of file ids")
    return {"files": [{"id": file_id} for file_id in entered]}


_BUILDERS: dict[str, Callable[[Element, Any, str], dict[str, Any]]] = {
    "file_input": _files,
    **dict.fromkeys(_TEXT_TYPES, _text),
    **dict.fromkeys(_SINGLE_SELECTS, _single),
    **dict.fromkeys(_MULTI_SELECTS, _multi),
    **dict.fromkeys(_PICKERS, _picker),
}
