"""Looking inside a model (Qt-free): layer outputs by forward hooks, saliency maps, first-layer filters.

The Recognizer's `explain_strokes` / `explain_image` return an `Explanation`; the Network tab
(digitpad.network) shows one.
"""
