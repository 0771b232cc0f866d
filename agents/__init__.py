"""Reinforcement learning over a frozen (or fine-tuned) encoder."""
