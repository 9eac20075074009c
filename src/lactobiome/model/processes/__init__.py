"""Process modules of the one-day step. Each exposes ``step(state, ctx) -> state``."""
