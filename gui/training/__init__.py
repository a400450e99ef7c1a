"""Training from the window: the worker thread, the session that drives it, and the live views."""
