"""Reinforcement learning over a frozen (or fine-tuned) encoder: the latent vec-env wrapper, the
SB3 factory with per-(algorithm, env) defaults, DARLA's comparison variants, save and load."""

from agents.agent import (ALGORITHMS, VARIANTS, AgentInput, TrainedAgent, Variant, check_algorithm, load,
                          make_vec_env, register_variant, train, variant)
from agents.episodic import EpisodicControl
from agents.latent import EncoderMismatchError, LatentObservations, check_frames_fit

__all__ = ["ALGORITHMS", "VARIANTS", "AgentInput", "EncoderMismatchError", "EpisodicControl", "check_algorithm", "Variant", "register_variant", "LatentObservations", "TrainedAgent",
           "check_frames_fit", "load", "make_vec_env", "train", "variant"]
