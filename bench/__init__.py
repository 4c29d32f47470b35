"""Benchmark of the bot's Slack acks against a bare Bolt app, both served by the Procfile's
gunicorn command; run it with `python -m bench` (see bench/README.md)."""
