"""The Zoom job of an approved account: at most one create whatever fails (job.py, results.py),
the worker loop that claims jobs, the rate limit every instance shares, and a bulk request's
progress and report."""
