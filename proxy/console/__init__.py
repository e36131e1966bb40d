"""The web console: static files (no build step) and its login sessions."""
