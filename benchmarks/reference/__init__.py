"""Frozen reference implementations for same-run speed ratios."""
