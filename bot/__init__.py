"""zoombot: create Zoom sub accounts from Slack after a human approval."""
