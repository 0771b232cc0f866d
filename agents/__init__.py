"""Reinforcement learning over a frozen (or fine-tuned) encoder: the latent vec-env wrapper, the
SB3 factory with per-(algorithm, env) defaults, DARLA's comparison variants, save and load."""

from agents.agent import ALGORITHMS, VARIANTS, TrainedAgent, load, make_vec_env, train, variant
from agents.latent import EncoderMismatchError, LatentObservations, check_frames_fit

__all__ = ["ALGORITHMS", "VARIANTS", "EncoderMismatchError", "LatentObservations", "TrainedAgent",
           "check_frames_fit", "load", "make_vec_env", "train", "variant"]
