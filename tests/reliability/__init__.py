"""Fault-injection and hardening suite (issue 4); each module says what it covers."""
