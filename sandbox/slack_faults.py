"""Faults the Slack emulator injects into its Web API, as real Slack does to real apps: HTTP 429
with Retry-After (asked for, or from a per-channel chat.postMessage token bucket), a 5xx from
Slack's edge (before or after the call took effect), an answer lost after Slack acted (the
connection closes with no byte written), an answer held back after Slack acted (the client
times out), `Connection: close` on every n-th response, and random chaos mixing them.

SlackEmulator inherits the public controls from `FaultControls`. For each API call its request
handling asks `_plan_fault` what to do (with the emulator's lock held), runs the method only
when the fault lets the call take effect, and turns the outcome into a `Reply` with `reply_for`.
With nothing configured no call is faulted and every reply is the method's JSON answer.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

RATE_LIMITED = "429"
SERVER_ERROR = "503"
TIMEOUT_AFTER_ACTING = "timeout_after_acting"
LOST_AFTER_ACTING = "lost_after_acting"
RANDOM_KINDS = (RATE_LIMITED, SERVER_ERROR, TIMEOUT_AFTER_ACTING, LOST_AFTER_ACTING)
SLOW = "slow"  # faults_given() key of stall_next(acted=False): slow, but answered normally
# What Slack's edge (Envoy) answers when the service behind it is down: not JSON.
EDGE_ERROR_TEXT = (
    "upstream connect error or disconnect/reset before headers. "
    "reset reason: connection termination"
)
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
NEVER_RANDOMLY_FAULTED = frozenset({"auth.test"})  # the bot's startup check stays reliable
POST_MESSAGE = "chat.postMessage"

Clock = Callable[[], float]


def retry_after_seconds(seconds: float) -> int:
    """Retry-After as Slack sends it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))


@dataclass(frozen=True)
class Fault:
    """What happens to one API call instead of (or besides) the method's normal answer.

    `kind` is one of:
    - "429": answered HTTP 429 with `Retry-After: retry_after` and `ratelimited`; no effect.
    - "5xx": answered HTTP `status` with `body` (Slack's edge text when None); the call takes
      effect first only when `acted`.
    - "lost": the call takes effect (unless not `acted`), then the connection closes
      without an answer.
    - "stall": `acted` — the call takes effect at once and its answer is written only after
      `seconds`; not `acted` — the call waits `seconds`, then takes effect and is answered.
    """

    kind: str
    status: int = 200
    retry_after: int = 1
    seconds: float = 0.0
    acted: bool = True
    body: str | None = None

    @property
    def takes_effect(self) -> bool:
        return self.kind == "stall" or (self.kind in ("lost", "5xx") and self.acted)

    @property
    def waits_before_acting(self) -> bool:
        return self.kind == "stall" and not self.acted

    @property
    def given_kind(self) -> str:
        """Its key in faults_given()."""
        if self.kind == "stall":
            return TIMEOUT_AFTER_ACTING if self.acted else SLOW
        if self.kind == "lost":
            return LOST_AFTER_ACTING
        return str(self.status)


RATE_LIMIT = Fault("429", status=429, acted=False)
CUT_SHORT = Fault("lost", acted=False)  # the emulator closed while the call waited to act


@dataclass(frozen=True)
class Reply:
    """One HTTP answer to an API call as the server's handler writes it.

    `lose`: write nothing and close the connection. `hold_seconds`: write only after that long
    (or not at all when the emulator closes meanwhile)."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    lose: bool = False
    hold_seconds: float = 0.0


def json_reply(answer: dict[str, Any], status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps(answer).encode(), JSON_TYPE, dict(headers))


def answered_label(answer: dict[str, Any]) -> str:
    """SlackCall.answered of a normal answer: "ok" or "error:<code>"."""
    return "ok" if answer.get("ok") is not False else f"error:{answer.get('error')}"


def reply_for(answer: dict[str, Any] | None, fault: Fault | None) -> tuple[Reply, str]:
    """The reply to a call and its SlackCall.answered label ("ok", "error:<code>", "429",
    "<5xx status>", "lost", "stalled"). `answer` is the method's answer, None when the fault
    kept the call from taking effect."""
    if fault is None or fault.waits_before_acting:
        assert answer is not None  # a call without a fault always took effect
        return json_reply(answer), answered_label(answer)
    if fault.kind == "429":
        body = {"ok": False, "error": "ratelimited"}
        return json_reply(body, 429, **{"Retry-After": str(fault.retry_after)}), "429"
    if fault.kind == "5xx":
        text = EDGE_ERROR_TEXT if fault.body is None else fault.body
        kind = JSON_TYPE if text.lstrip().startswith("{") else TEXT_TYPE
        return Reply(fault.status, text.encode(), kind), str(fault.status)
    if fault.kind == "lost":
        return Reply(0, b"", JSON_TYPE, lose=True), "lost"
    assert answer is not None  # a stalled call took effect
    return Reply(200, json.dumps(answer).encode(), JSON_TYPE, hold_seconds=fault.seconds), "stalled"


class ChannelBuckets:
    """Slack's chat.postMessage limit: about `per_second` messages per channel, with bursts of
    up to `burst`. One token bucket per channel (the `channel` parameter as given), full at
    first, refilled continuously on `clock`."""

    def __init__(self, per_second: float, burst: int, clock: Clock) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be > 0 and burst >= 1")
        self.per_second, self.burst, self._clock = per_second, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # channel → (tokens, when counted)

    def take(self, channel: str) -> int:
        """Takes a token: 0 when there was one, else the Retry-After (seconds until one)."""
        now = self._clock()
        tokens, then = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
        if tokens >= 1:
            self._buckets[channel] = (tokens - 1, now)
            return 0
        self._buckets[channel] = (tokens, now)
        return retry_after_seconds((1 - tokens) / self.per_second)


@dataclass(frozen=True)
class _Queued:
    """A fault waiting for the next call of its method (and of `channel`, when given)."""

    fault: Fault
    channel: str | None = None

    def matches(self, params: dict[str, Any]) -> bool:
        return self.channel is None or str(params.get("channel") or "") == self.channel


@dataclass
class _Chaos:
    """random_faults(): each eligible call is faulted with probability `rate`."""

    rate: float
    kinds: tuple[str, ...]
    rng: random.Random
    methods: frozenset[str] | None
    stall_seconds: float

    def pick(self, method: str) -> Fault | None:
        if method in NEVER_RANDOMLY_FAULTED or (
            self.methods is not None and method not in self.methods
        ):
            return None
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        if kind == RATE_LIMITED:
            return RATE_LIMIT
        if kind == SERVER_ERROR:
            return Fault("5xx", status=503, acted=False)
        if kind == TIMEOUT_AFTER_ACTING:
            return Fault("stall", seconds=self.stall_seconds, acted=True)
        return Fault("lost")


class FaultControls:
    """The fault-injection half of SlackEmulator (a mixin: it uses the emulator's lock).

    Faults queued for one method (rate_limit_next, server_error_next, lose_answer_next,
    stall_next) apply one per call, in the order they were asked for; they come before random
    faults. The per-channel limit then applies to every chat.postMessage that would take
    effect. Every fault is counted (faults_given, rate_limited_count) and every call recorded
    with what it was answered (SlackCall.answered)."""

    _changed: threading.Condition

    def _init_faults(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._closing = threading.Event()  # set by close(): held answers stop waiting
        self._queued: dict[str, list[_Queued]] = {}
        self._buckets: ChannelBuckets | None = None
        self._chaos: _Chaos | None = None
        self._close_every: int | None = None
        self._replies_written = 0
        self._given: Counter[str] = Counter()
        self._rate_limited: Counter[str] = Counter()

    # -- queued faults ----------------------------------------------------------------------

    def rate_limit_next(
        self, method: str, *, retry_after: float = 1, times: int = 1, channel: str | None = None
    ) -> None:
        """The next `times` calls of `method` (only those whose `channel` parameter equals
        `channel`, when given) are answered HTTP 429, `Retry-After: <retry_after rounded up,
        at least 1>`, body `{"ok": false, "error": "ratelimited"}`, and do not take effect."""
        fault = Fault("429", status=429, retry_after=retry_after_seconds(retry_after), acted=False)
        self._queue(method, [_Queued(fault, channel)] * times)

    def server_error_next(
        self,
        method: str,
        *,
        status: int = 503,
        times: int = 1,
        acted: bool = False,
        body: str | None = None,
    ) -> None:
        """The next `times` calls of `method` are answered HTTP `status` (500-599) with `body`
        (default: the non-JSON text Slack's edge sends, EDGE_ERROR_TEXT; a body starting with
        "{" goes as JSON). With `acted` the call takes effect first (the message IS posted),
        as when Slack fails after doing the work; otherwise it has no effect."""
        if not 500 <= status <= 599:
            raise ValueError(f"server_error_next takes a 5xx status, not {status}")
        self._queue(method, [_Queued(Fault("5xx", status=status, acted=acted, body=body))] * times)

    def lose_answer_next(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` take effect (recorded in calls and the workspace),
        then the server closes the connection without writing a byte of the answer: the client
        sees RemoteDisconnected (or a reset) and cannot know Slack acted."""
        self._queue(method, [_Queued(Fault("lost"))] * times)

    def stall_next(
        self, method: str, *, seconds: float, times: int = 1, acted: bool = True
    ) -> None:
        """The next `times` calls of `method` are slow. With `acted` the call takes effect at
        once and its (normal) answer is written only `seconds` later, so a client with a
        shorter timeout times out after Slack acted. Without, the call waits `seconds`, then
        takes effect and is answered (as delay_next). close() cuts either wait short."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        self._queue(method, [_Queued(Fault("stall", seconds=seconds, acted=acted))] * times)

    def _queue(self, method: str, faults: list[_Queued]) -> None:
        with self._changed:
            self._queued.setdefault(method, []).extend(faults)

    # -- standing faults --------------------------------------------------------------------

    def limit_channel_posts(self, per_second: float | None = 1.0, burst: int = 3) -> None:
        """Slack's per-channel limit on chat.postMessage (thread replies count too): a token
        bucket per `channel` parameter, holding up to `burst` tokens, refilled at `per_second`.
        A post finding no token is answered HTTP 429 with `Retry-After` (seconds until the next
        token, rounded up, at least 1) and does not take effect. `per_second` None or 0 turns
        the limit off (the default); turning it on again starts with full buckets."""
        with self._changed:
            self._buckets = ChannelBuckets(per_second, burst, self._clock) if per_second else None

    def close_connection_every(self, n: int | None) -> None:
        """Every `n`-th response the server writes (counting from now, any path) carries
        `Connection: close` and the server closes the connection once it is fully written: a
        complete, correct answer, after which a keep-alive client must reconnect. None: off."""
        if n is not None and n < 1:
            raise ValueError("n must be >= 1 or None")
        with self._changed:
            self._close_every, self._replies_written = n, 0

    def random_faults(
        self,
        rate: float,
        *,
        kinds: tuple[str, ...] = RANDOM_KINDS,
        seed: int | None = None,
        methods: Iterable[str] | None = None,
        stall_seconds: float = 2.0,
    ) -> None:
        """Chaos: each API call (of `methods` when given; never auth.test) is faulted with
        probability `rate`, with one of `kinds` chosen at random: "429" (Retry-After 1, no
        effect), "503" (edge text, no effect), "timeout_after_acting" (acts, answer held
        `stall_seconds`) or "lost_after_acting" (acts, connection closed unanswered). `seed`
        makes the sequence repeatable. `random_faults(0)` turns it off."""
        unknown = set(kinds) - set(RANDOM_KINDS)
        if not 0 <= rate <= 1 or unknown or not kinds:
            raise ValueError(f"rate must be in [0, 1] and kinds in {RANDOM_KINDS}")
        chosen = frozenset(methods) if methods is not None else None
        chaos = _Chaos(rate, tuple(kinds), random.Random(seed), chosen, stall_seconds)  # noqa: S311
        with self._changed:
            self._chaos = chaos if rate > 0 else None

    def clear_faults(self) -> None:
        """Forgets every queued and standing fault (not the counts): Slack behaves again."""
        with self._changed:
            self._queued.clear()
            self._buckets = self._chaos = self._close_every = None

    # -- counts -----------------------------------------------------------------------------

    def rate_limited_count(self, method: str | None = None) -> int:
        """How many calls (of `method`, or of any) were answered HTTP 429, whatever the cause."""
        with self._changed:
            if method is None:
                return sum(self._rate_limited.values())
            return self._rate_limited[method]

    def faults_given(self) -> dict[str, int]:
        """How many faults were given, by kind: "429", the 5xx status ("503"...),
        "timeout_after_acting" (stalled answers), "lost_after_acting", "slow" (stall_next
        without acting). Queued, random and per-channel faults alike."""
        with self._changed:
            return dict(self._given)

    # -- used by the request handling -------------------------------------------------------

    def _plan_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        """What to do with this call; called with the lock held, once per call."""
        fault = self._next_queued(method, params)
        if fault is None and self._chaos is not None:
            fault = self._chaos.pick(method)
        if (fault is None or fault.takes_effect) and method == POST_MESSAGE and self._buckets:
            wait = self._buckets.take(str(params.get("channel") or ""))
            if wait:
                fault = Fault("429", status=429, retry_after=wait, acted=False)
        if fault is not None:
            self._given[fault.given_kind] += 1
            if fault.status == 429:
                self._rate_limited[method] += 1
        return fault

    def _next_queued(self, method: str, params: dict[str, Any]) -> Fault | None:
        queued = self._queued.get(method) or []
        found = next((item for item in queued if item.matches(params)), None)
        if found is None:
            return None
        queued.remove(found)
        return found.fault

    def hold_answer(self, seconds: float) -> bool:
        """Waits `seconds` unless the emulator closes first; True when it closed."""
        return self._closing.wait(seconds)

    def close_after_reply(self) -> bool:
        """Called once per response written: whether this one carries `Connection: close`."""
        with self._changed:
            self._replies_written += 1
            return self._close_every is not None and self._replies_written % self._close_every == 0

    def _before_close(self) -> None:
        self._closing.set()
