"""The audit log read back: the export command and its records, a requester's history, and the
access lists recorded at start. Written by the domain (bot/requests/) as things happen."""
