"""Prometheus text exposition format (version 0.0.4), hand-written: metric families of gauges,
counters and histograms, label values escaped and bounded to a known set."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER = "other"  # the label value of anything outside a label's known values

MetricType = Literal["gauge", "counter", "histogram"]
Labels = tuple[tuple[str, str], ...]


def bounded(value: object, known: Iterable[str]) -> str:
    """`value` as a label value when it is one of `known`, else "other": a label never carries
    free text (which could hold a secret) and never grows without bound."""
    text = str(value) if value is not None else ""
    return text if text in set(known) else OTHER


@dataclass
class Family:
    """One metric family: its samples, each a (suffix, labels, value)."""

    name: str
    help: str
    type: MetricType
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append(("", tuple(labels.items()), value))


@dataclass
class Histogram:
    """Observations into cumulative buckets (upper bounds in the family's unit), per label set."""

    buckets: Sequence[float]
    _counts: dict[Labels, list[int]] = field(default_factory=dict)
    _sums: dict[Labels, float] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(labels.items())
        counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                counts[index] += 1
        counts[-1] += 1  # +Inf
        self._sums[key] = self._sums.get(key, 0.0) + value

    def family(self, name: str, help_text: str) -> Family:
        family = Family(name, help_text, "histogram")
        for labels, counts in sorted(self._counts.items()):
            bounds = [*(_number(bound) for bound in self.buckets), "+Inf"]
            for bound, count in zip(bounds, counts, strict=True):
                family.samples.append(("_bucket", (*labels, ("le", bound)), float(count)))
            family.samples.append(("_sum", labels, self._sums[labels]))
            family.samples.append(("_count", labels, float(counts[-1])))
        return family


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for suffix, labels, value in family.samples:
            lines.append(f"{family.name}{suffix}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Labels | Mapping[str, str]) -> str:
    pairs = labels.items() if isinstance(labels, Mapping) else labels
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{_escape_value(value)}"' for key, value in pairs) + "}"


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)
