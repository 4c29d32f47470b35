"""The sandbox: a Slack workspace emulator and a Zoom simulator on loopback, used by
`python app.py sandbox` and, as the same code, by the test suite as its fake Slack and Zoom."""
