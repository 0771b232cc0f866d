"""Representation learners behind one interface: networks, losses, training loop, checkpoints.

This package sees arrays, never environments: it must not import ``envs``, ``agents``, ``eval`` or ``darla``.
"""
