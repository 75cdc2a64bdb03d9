"""Clients of the Samvaad API: the `samvaad` command line and the demo."""
