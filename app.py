"""zoombot entry point, kept for the commands operators already use; bot/cli.py does the work.

python app.py            serve Slack over HTTP on $PORT (Socket Mode when SLACK_APP_TOKEN is set),
                         with the worker in the same process (`zoombot serve`)
python app.py worker     the worker alone: Slack deliveries, Zoom jobs, sweeps (Procfile `worker:`)
python app.py sandbox    the whole flow on this machine: Slack emulator, Zoom simulator, a web page
python app.py export     write the audit log (requests and their events) as CSV or JSON
python app.py check      check the settings, Slack, Zoom and the database before going live
python app.py migrate    apply pending migrations (Procfile `release:`)
gunicorn 'app:wsgi()'    the HTTP app alone under a production server (Procfile `web:`)
"""

from __future__ import annotations

import sys

from bot.cli import main
from bot.runtime.serve import wsgi

__all__ = ["wsgi"]

if __name__ == "__main__":
    # No command means serve, as `python app.py` always has.
    raise SystemExit(main(sys.argv[1:] or ["serve"]))
