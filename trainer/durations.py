"""The one way digitpad writes a duration, in the terminal and in the window."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """'4.2s' under a minute, then '1m05s' and '1h02m03s' (ETAs, run times, summaries)."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
