"""The benchmark's approval → Zoom latency with the bot's recorded rate-limit waits taken out."""

from bench.phases import ApprovalRun


def run(**overrides):
    values = {
        "phase": "paced",
        "target": "bot",
        "zoom_answer_seconds": 0.3,
        "slack_latency_seconds": 0.0,
        "concurrency": 4,
        "rate_per_second": 10.0,
        "outcomes": [],
        "sent_at": {1: 100.0, 2: 100.0},
        "zoom_received_at": {1: 100.020, 2: 100.150},
        "zoom_called_at": {},
    }
    values.update(overrides)
    return ApprovalRun(**values)


def test_recorded_waits_are_taken_out_per_request():
    approvals = run(rate_limit_wait_seconds={2: 0.125})

    assert [round(ms, 3) for ms in approvals.to_zoom_excluding_waits_ms] == [20.0, 25.0]
    assert [round(ms, 3) for ms in approvals.to_zoom_ms] == [20.0, 150.0]


def test_without_recorded_waits_both_measures_agree():
    approvals = run()

    assert approvals.to_zoom_excluding_waits_ms == approvals.to_zoom_ms
