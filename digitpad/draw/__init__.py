"""The Draw tab: the paper, its strokes, live recognition and the result views."""
