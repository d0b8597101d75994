"""Learn the user's handwriting: personal examples, their storage and exchange, and the personalized model.

Qt-free: the Draw tab, the CLI and scripts all use these modules.
"""
