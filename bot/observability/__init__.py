"""What an operator sees of a running bot: structured logs with request context (logs.py,
context.py), Prometheus metrics read from the database (metrics.py, prometheus.py), the health
and metrics server beside Socket Mode (side_server.py), Sentry (sentry.py) and start-up warnings
about deployments that would lose data (ephemeral.py)."""
