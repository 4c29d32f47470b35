"""The domain: a request of one account or of many, its one state machine and transition table,
the policy, validation, passwords and preview. No Slack, no HTTP: plain values and sessions."""
