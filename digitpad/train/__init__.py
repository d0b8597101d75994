"""The Train tab: the form, runs, worker, live charts and results."""
