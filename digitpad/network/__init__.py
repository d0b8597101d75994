"""The Network tab: inside the model in use, live for the current drawing (see digitpad.network.tab)."""
