"""Everything the bot owes Slack after an ack: outbox rows written in the transaction that owes
them (outbox.py), the SQL of claiming and settling them (store.py, claimable.py), one delivery
per row (sender.py: posting.py, sends.py, batch_sends.py, file_sends.py, settling.py,
rendering.py), the worker process's loop (worker.py) with its heartbeats (heartbeats.py) and
its repairs (repair.py)."""
