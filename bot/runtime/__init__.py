"""How the bot runs: the composition root that builds everything top-down (compose.py), the
processes it serves (serve.py, web.py) and the web process's small pool (tasks.py)."""
