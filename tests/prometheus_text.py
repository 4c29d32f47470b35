"""A strict reader of Prometheus text exposition (0.0.4) for the /metrics tests: every line must
be a HELP, a TYPE or a sample of the family just declared, or reading fails."""

from __future__ import annotations

import math
import re

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("",), "gauge": ("",)}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """(family name → type, (sample name, labels) → value); AssertionError on a bad line."""
    types: dict[str, str] = {}
    samples: Samples = {}
    current: str | None = None
    assert text.endswith("\n"), "the exposition ends with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split(" ", 3)[2]
            continue
        if line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split(" ")
            assert name == current, f"TYPE of {name} without its HELP first"
            assert kind in _SUFFIXES, line
            types[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels_text, value = match.groups()
        assert current is not None
        assert any(name == current + suffix for suffix in _SUFFIXES[types[current]]), line
        labels = _labels(labels_text or "")
        float(value)  # +Inf, NaN and numbers all parse
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value)
    return types, samples


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        assert match, f"bad labels: {text!r}"
        labels[match.group(1)] = match.group(2)
        position = match.end()
    return labels


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), math.nan)
