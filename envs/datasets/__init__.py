"""Procedural ground-truth datasets (no downloads): each module registers its factor space on import."""
