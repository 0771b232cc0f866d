"""Evaluation: disentanglement metrics, zero-shot transfer, statistics."""
