"""Train, save and load agents: stable-baselines3 policies on latents, fine-tuned encoders or pixels.

DARLA's comparison agents are *variants*, each selectable by name:

| variant     | representation the policy sees                                        |
|-------------|-----------------------------------------------------------------------|
| `darla`     | frozen β-VAE-DAE latent means (env-side :class:`LatentObservations`)  |
| `darla_ent` | frozen β = 1 VAE latent means (entangled vision)                       |
| `darla_dae` | frozen DAE bottleneck                                                 |
| `darla_ft`  | the β-VAE-DAE encoder, initialised from stage 1, fine-tuned by the RL loss |
| `pixels`    | frames, SB3's CnnPolicy trained end to end                             |
| `oracle`    | the ground-truth factors and views, one-hot (perfect disentangled vision; not one of DARLA's agents) |

Algorithms are SB3's PPO, A2C, DQN and SAC, and Model-Free Episodic Control (``ec``,
:mod:`agents.episodic`) for the variants whose policy reads vectors (frozen latents, the oracle).

A saved agent is a folder: ``policy.safetensors`` and ``policy.json`` (the SB3 model as data, see
:mod:`agents.storage`), ``agent.json`` (variant, algorithm, env, seed) and ``encoder.pt`` (a copy of
the vision checkpoint it was trained with), so it can be evaluated later, on any domain, by its
path alone. Loading reads data only: no file of the folder can run code.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import gymnasium
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger, TensorBoardOutputFormat
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecTransposeImage

import envs
import vision
from agents import episodic, storage
from agents.episodic import EpisodicControl
from agents.hyperparams import ALGORITHMS, defaults_for
from agents.latent import CodeStandardizer, FactorObservations, LatentObservations
from agents.storage import AgentFileError
from artifacts import package_version, temporary_folder
from artifacts.registry import Registry

ENCODER_FILE, SPEC_FILE = "encoder.pt", "agent.json"


class AgentInput:
    """What a variant's policy reads, as behaviour: how the env's observations are wrapped, which
    SB3 policy reads them, and what the policy needs from the vision checkpoint. A new kind of
    input (symbols, episodic keys) is one subclass; nothing else compares variant names or modes."""

    policy = "MlpPolicy"
    reads = "latents"        # the kind of input, for per-input RL defaults (agents.hyperparams)
    ground_truth = False     # the env emits one-hot factors and views instead of frames
    frozen_encoder = False   # the frames are encoded env-side by the frozen vision model

    def wrap(self, venv: VecEnv, encoder, standardizer: CodeStandardizer | None) -> VecEnv:
        return venv

    def policy_kwargs(self, plain: dict, encoder_path) -> dict:
        """SB3 ``policy_kwargs`` from the JSON-able ones of the config (the extractor, for an encoder trained by RL)."""
        return plain

    def extractor(self, encoder_path) -> tuple[type, dict] | None:
        """The features extractor a saved policy is rebuilt with, or None for SB3's own."""
        return None

    def initialise(self, policy: torch.nn.Module) -> None:
        """Set the weights a new policy starts from, once SB3 has built it (not on load)."""


class FrozenLatents(AgentInput):
    """Latent means of a frozen encoder (optionally standardised), encoded env-side; an MLP policy."""

    frozen_encoder = True

    def wrap(self, venv, encoder, standardizer):
        return LatentObservations(venv, encoder, standardizer)


class Frames(AgentInput):
    """Frames, channel-first for SB3's CnnPolicy, trained end to end."""

    policy = "CnnPolicy"
    reads = "frames"

    def wrap(self, venv, encoder, standardizer):
        return VecTransposeImage(venv)


class FineTunedEncoder(Frames):
    """Frames through the stage-1 encoder as the policy's features extractor, trained by the RL loss."""

    def policy_kwargs(self, plain, encoder_path):
        return _finetune_policy_kwargs(plain, encoder_path)

    def extractor(self, encoder_path):
        return EncoderFeatures, {"checkpoint": str(encoder_path)}

    def initialise(self, policy):
        # SB3's actor-critic policies re-draw every weight of the features extractor when they are
        # built (`ortho_init`, on by default for PPO and A2C): without this the encoder would start
        # from random weights, and darla_ft would be a CNN trained from scratch (as it was until
        # 2026-11-30: its returns did not depend on the vision checkpoint at all).
        extractors = [m for m in policy.modules() if isinstance(m, EncoderFeatures)]
        if not extractors:
            raise RuntimeError("darla_ft's policy has no EncoderFeatures extractor to start from stage 1")
        for extractor in extractors:
            extractor.restore_stage1_weights()


class GroundTruth(AgentInput):
    """The env's factors and views, one-hot (the oracle); an MLP policy."""

    reads = "factors"
    ground_truth = True


@dataclass(frozen=True)
class Variant:
    name: str
    vision_method: str | None  # the stage-1 method whose checkpoint this variant needs (by default)
    input: AgentInput           # what the policy reads, and how
    description: str
    swappable: bool = False     # any vision method may replace the default (DARLA's own backbone)

    def method_for(self, backbone: str | None) -> str | None:
        """The vision method this variant reads when the experiment's backbone is ``backbone``."""
        return backbone if self.swappable and backbone else self.vision_method


VARIANTS: Registry[Variant] = Registry("agent variant", hint="README's tour describes each.")


def register_variant(v: Variant) -> Variant:
    """Make ``v`` selectable by name (``variants=[...]``, ``darla act --variant``)."""
    return VARIANTS.add(v.name, v)


for _v in (
    Variant("darla", "beta_vae_dae", FrozenLatents(), "frozen beta-VAE-DAE latent means (DARLA)", swappable=True),
    Variant("darla_ent", "vae", FrozenLatents(), "frozen beta=1 VAE latent means (entangled vision)"),
    Variant("darla_dae", "dae", FrozenLatents(), "frozen DAE bottleneck"),
    Variant("darla_ft", "beta_vae_dae", FineTunedEncoder(), "beta-VAE-DAE encoder fine-tuned by the RL loss",
            swappable=True),
    Variant("pixels", None, Frames(), "end-to-end CNN policy on frames"),
    Variant("oracle", None, GroundTruth(), "ground-truth factors and views, one-hot: perfect disentangled vision"),
):
    register_variant(_v)


def variant(name: str) -> Variant:
    return VARIANTS.get(name)


class EncoderFeatures(BaseFeaturesExtractor):
    """A stage-1 encoder as SB3 features extractor, trainable (``darla_ft``).

    SB3 hands it float32 NCHW frames in [0, 1], the toolkit's model convention, so the encoder is
    used exactly as in stage 1 and its latent means are the features."""

    def __init__(self, observation_space: gymnasium.spaces.Box, checkpoint: str):
        model = vision.load_model(checkpoint)
        super().__init__(observation_space, features_dim=int(model.latent_dim))
        self.checkpoint = checkpoint
        self.model = model.train()
        self.model.requires_grad_(True)

    def restore_stage1_weights(self) -> None:
        """Copy the stage-1 checkpoint's weights in place (the optimizer keeps its parameters)."""
        with torch.no_grad():
            self.model.load_state_dict(vision.load_model(self.checkpoint).state_dict())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.model.representation(observations)


def make_vec_env(env_id: str, domain: str, n_envs: int, seed: int, env_kwargs: dict | None = None,
                 factors: bool = False, wrappers: Sequence = ()) -> VecEnv:
    """``n_envs`` copies of ``env_id``'s ``domain`` (Monitor-wrapped for episode stats), seeded;
    ``factors=True`` gives one-hot ground-truth observations instead of frames (the oracle).
    ``wrappers`` (a spec of :func:`envs.apply_wrappers`, e.g. a visual shift) wrap each env's
    frames first: a visual shift of a domain, which an oracle's factors never see."""
    env_kwargs = dict(env_kwargs or {})
    envs.registry.check_name(env_id)

    def make():
        env = envs.apply_wrappers(envs.registry.make_env(env_id, domain=domain, **env_kwargs), wrappers)
        return Monitor(FactorObservations(env) if factors else env)

    venv = DummyVecEnv([make for _ in range(n_envs)])
    venv.seed(seed)
    return venv


class TrainedAgent:
    """A saved agent: its SB3 model, its (frozen) encoder, and how to build the envs it acts in."""

    def __init__(self, spec: dict, model: BaseAlgorithm | EpisodicControl, encoder: vision.Encoder | None,
                 standardizer: CodeStandardizer | None = None):
        self.spec, self.model, self.encoder, self.standardizer = spec, model, encoder, standardizer
        self.variant = variant(spec["variant"])

    @property
    def training_domain(self) -> str:
        """The domain this agent trained on (the env's first declared domain for agents saved before
        agents recorded it): what a visual shift is applied to."""
        return self.spec.get("domain") or envs.registry.declared_domains(
            self.spec["env_id"], **(self.spec.get("env_kwargs") or {}))[0]

    def make_env(self, domain: str, n_envs: int = 1, seed: int = 0, wrappers: Sequence = ()) -> VecEnv:
        """The env stack this agent acts through (latent wrapper or channel-first pixels), on
        ``domain`` seen through ``wrappers`` (none: the domain as it is)."""
        venv = make_vec_env(self.spec["env_id"], domain, n_envs, seed, self.spec.get("env_kwargs"),
                            factors=self.variant.input.ground_truth, wrappers=wrappers)
        return self.variant.input.wrap(venv, self.encoder, self.standardizer)

    def check_env(self, venv: VecEnv) -> None:
        if venv.action_space != self.model.action_space:
            raise ValueError(f"this agent acts in {self.model.action_space} but the env's action space is "
                             f"{venv.action_space}; evaluate it on the env it was trained on "
                             f"({self.spec['env_id']!r}) or one with the same actions")
        if venv.observation_space != self.model.observation_space:
            raise ValueError(f"this agent observes {self.model.observation_space} but the env gives "
                             f"{venv.observation_space}")

    def predict(self, observations: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.model.predict(observations, deterministic=deterministic)[0]


def train(variant_name: str, env_id: str, out_dir: str | os.PathLike, *, steps: int, seed: int = 0,
          algo: str = "ppo", encoder: str | os.PathLike | vision.Encoder | None = None,
          encoder_path: str | os.PathLike | None = None, hyperparams: dict | None = None,
          env_kwargs: dict | None = None, tensorboard_dir: str | os.PathLike | None = None,
          callbacks: Sequence[BaseCallback] = (), progress: bool = False, device: str = "cpu",
          standardize: bool = False, domain: str | None = None) -> Path:
    """Train ``variant_name`` with ``algo`` on ``domain`` of ``env_id`` (default: the env's training
    domain, the first its factor space declares); save it to ``out_dir``.

    ``standardize`` (frozen-encoder variants) feeds the policy codes standardised with the
    encoder's statistics over its stage-1 frames (:class:`~agents.latent.CodeStandardizer`); the
    statistics and the encoder's digest are saved with the agent. The folder appears only when
    training finished (written under a temporary name, then renamed).

    ``encoder`` is a vision checkpoint's path or a :class:`vision.Encoder` object (one trained or
    built in Python), which is first written as a checkpoint (:func:`vision.save_encoder`) and saved
    with the agent like any other; ``encoder_path`` is the same as a path, for existing callers."""
    if encoder is not None and encoder_path is not None:
        raise ValueError("give the encoder once: encoder (a path or a vision.Encoder) or encoder_path, not both")
    if isinstance(encoder, vision.Encoder):
        settings = {k: v for k, v in locals().items() if k not in ("encoder", "encoder_path")}
        with tempfile.TemporaryDirectory(prefix="darla-encoder-") as scratch:
            return train(**settings, encoder=vision.save_encoder(encoder, Path(scratch) / ENCODER_FILE))
    encoder_path = encoder if encoder is not None else encoder_path
    spec = variant(variant_name)
    check_algorithm(algo, variant_name, env_id, hyperparams, env_kwargs)
    if spec.vision_method is not None and encoder_path is None:
        raise ValueError(f"variant {variant_name!r} needs a {spec.vision_method} checkpoint (encoder_path); "
                         f"train one with `darla see --method {spec.vision_method}`")
    hp = defaults_for(algo, env_id, hyperparams, spec.input.reads)
    n_envs = int(hp.pop("n_envs"))
    set_random_seed(seed)
    if domain is None:
        domain = envs.registry.declared_domains(env_id, **(env_kwargs or {}))[0]
    venv = make_vec_env(env_id, domain, n_envs, seed, env_kwargs, factors=spec.input.ground_truth)
    encoder = vision.load_encoder(encoder_path) if spec.vision_method and encoder_path is not None else None
    if encoder is not None and encoder.method != spec.vision_method and not spec.swappable:
        raise ValueError(f"variant {variant_name!r} expects a {spec.vision_method} checkpoint, got "
                         f"{encoder.method!r} from {encoder_path}")
    standardizer = (CodeStandardizer.from_encoder(encoder)
                    if standardize and spec.input.frozen_encoder and encoder is not None else None)
    venv = spec.input.wrap(venv, encoder, standardizer)
    plain_policy_kwargs = _jsonable(hp.get("policy_kwargs", {}))
    # a copy: SB3 adds its own entries (A2C's optimizer class) to the dict it is given
    hp["policy_kwargs"] = spec.input.policy_kwargs(dict(plain_policy_kwargs), encoder_path)
    model = ALGORITHMS.get(algo).cls(spec.input.policy, venv, seed=seed, device=device, verbose=0, **hp)
    if isinstance(model, BaseAlgorithm):
        spec.input.initialise(model.policy)
    # An explicit logger: TensorBoard events exactly where asked, and no stray /tmp/SB3-* folders.
    outputs: list[KVWriter] = [TensorBoardOutputFormat(str(tensorboard_dir))] if tensorboard_dir else []
    model.set_logger(Logger(str(tensorboard_dir) if tensorboard_dir else None, outputs))
    model.learn(total_timesteps=steps, callback=list(callbacks), progress_bar=progress)
    venv.close()
    record = {"variant": variant_name, "algo": algo, "env_id": env_id, "env_kwargs": dict(env_kwargs or {}),
              "domain": domain, "seed": seed, "steps": steps, "hyperparams": _jsonable(hyperparams or {}),
              "policy_kwargs": plain_policy_kwargs,
              "encoder": ENCODER_FILE if encoder_path else None, "darla_version": package_version()}
    if encoder_path:  # which encoder the policy learned on: a swapped encoder.pt is refused on load
        record["encoder_sha256"] = storage.sha256(encoder_path)
    if envs.registry.level1_domains(env_id) is not None:  # no ground truth: its domains are data the agent keeps
        record["domains"] = envs.registry.level1_domains(env_id)
    record["standardize"] = standardizer is not None
    if standardizer is not None and encoder_path is not None:
        record["standardization"] = standardizer.record(encoder_path)
    return _save_atomically(Path(out_dir), model, record, encoder_path)


def check_algorithm(algo: str, variant_name: str, env_id: str, hyperparams: dict | None = None,
                    env_kwargs: dict | None = None) -> None:
    """Fail before any work when ``algo`` cannot train ``variant_name`` with these settings (EC reads
    vectors only and needs k ≤ buffer_size); ``darla run`` calls it while validating its config."""
    check_actions(algo, env_id, env_kwargs)
    if ALGORITHMS.get(algo).cls is EpisodicControl:
        episodic.check_input(variant_name, variant(variant_name).input.policy,
                             [name for name, v in VARIANTS.items() if v.input.policy == "MlpPolicy"])
        hp = defaults_for(algo, env_id, hyperparams, variant(variant_name).input.reads)
        episodic.check_settings(**{k: hp.get(k, v) for k, v in episodic._default_settings().items()})


def check_actions(algo: str, env_id: str, env_kwargs: dict | None = None) -> None:
    """Fail, naming the algorithms that fit, when ``algo`` cannot act in ``env_id``'s action space
    (DQN on the Reach arm's joint velocities, SAC on the Room's three moves). ``env_kwargs`` are the
    ones the agent trains with, since they can change the actions (CarRacing's ``continuous``) or be
    needed to make the env at all (``render_mode`` for the ``pixels`` wrapper)."""
    env = envs.registry.make_env(env_id, **(env_kwargs or {}))
    try:
        action_space = env.action_space
    finally:
        env.close()
    kind = "continuous" if isinstance(action_space, gymnasium.spaces.Box) else "discrete"
    if ALGORITHMS.get(algo).actions not in (kind, "any"):
        fits = sorted(name for name, a in ALGORITHMS.items() if a.actions in (kind, "any"))
        raise ValueError(f"{algo} cannot act in {env_id}: its actions are {kind} "
                         f"({action_space}); algorithms that fit: {', '.join(fits)}")


def load(path: str | os.PathLike, device: str = "cpu") -> TrainedAgent:
    """A saved agent folder → :class:`TrainedAgent`, ready to act on any domain.

    Reads data only (JSON, safetensors, a weights-only encoder checkpoint); a folder saved by an
    older darla as SB3's ``model.zip`` is refused unread, since unpickling it could run code."""
    path = Path(path)
    spec_file = path / SPEC_FILE
    if not spec_file.exists():
        raise FileNotFoundError(f"no agent at {path} (missing {SPEC_FILE}); train one with `darla act`")
    storage.refuse_legacy(path)
    spec = storage.read_json(spec_file, "an agent record written by `darla act`")
    if spec.get("variant") not in VARIANTS or spec.get("algo") not in ALGORITHMS:
        raise AgentFileError(f"{spec_file} names variant {spec.get('variant')!r} and algorithm {spec.get('algo')!r}; "
                             f"known variants: {VARIANTS.names()}, algorithms: {ALGORITHMS.names()}")
    kind = variant(spec["variant"])
    if isinstance(spec.get("domains"), dict):  # a level-1 env: its domains as the agent was trained with them
        envs.register_domains(str(spec.get("env_id")), spec["domains"], spec.get("env_kwargs"))
    encoder_file = _encoder_file(path, spec.get("encoder"), spec_file, needed=kind.vision_method is not None)
    extractor = kind.input.extractor(encoder_file)
    model: BaseAlgorithm | EpisodicControl
    if ALGORITHMS.get(spec["algo"]).cls is EpisodicControl:
        model = EpisodicControl.load(path)
    else:
        model = storage.load(path, ALGORITHMS.get(spec["algo"]).cls, spec["algo"], device, extractor)
    encoder = vision.load_encoder(encoder_file) if kind.input.frozen_encoder and encoder_file is not None else None
    standardizer = None
    if encoder_file is not None and (spec.get("standardize") or "standardization" in spec):  # a swapped encoder is refused
        standardizer = CodeStandardizer.from_record(spec.get("standardization"), encoder_file, f"the agent at {path}")
    elif encoder_file is not None and "encoder_sha256" in spec and \
            spec["encoder_sha256"] not in vision.checkpoint.identities(encoder_file):
        # (a standardised agent's statistics name their encoder already, with their own message)
        raise AgentFileError(f"{encoder_file} is not the encoder the agent at {path} was trained on (sha256 "
                             f"differs from {spec_file}'s encoder_sha256): it was replaced; restore the agent's "
                             "own encoder file or train the agent again")
    return TrainedAgent(spec, model, encoder, standardizer)


def _encoder_file(folder: Path, name, spec_file: Path, needed: bool) -> Path | None:
    """The agent's encoder: a plain file name in its own folder (never a path leading elsewhere)."""
    if name is None and not needed:
        return None
    plain = (isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0:")
             and Path(name).name == name)
    file = folder / name if plain else None
    if file is None or file.is_symlink():
        raise AgentFileError(f"{spec_file}: encoder {name!r} must be the name of a file inside the agent folder "
                             f"(like {ENCODER_FILE!r}), not a path or link; put the checkpoint in the folder "
                             "and write its plain name")
    return file


def _finetune_policy_kwargs(policy_kwargs: dict, encoder_path) -> dict:
    # actor-critic policies share one encoder by default, as in the paper's A3C-style agents; DQN's
    # policy takes no share_features_extractor argument, so it is not passed
    return {**policy_kwargs, "features_extractor_class": EncoderFeatures,
            "features_extractor_kwargs": {"checkpoint": str(encoder_path)}}


def _save_atomically(out: Path, model: BaseAlgorithm, record: dict, encoder_path) -> Path:
    """Each file is written under a temporary name and renamed; ``agent.json`` comes last, so a
    folder without it is an unfinished save that :func:`load` refuses. ``record`` is kept as given
    (an open dict); the model goes to ``policy.safetensors`` + ``policy.json`` (:mod:`agents.storage`)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / SPEC_FILE).unlink(missing_ok=True)
    with temporary_folder(out) as tmp:
        if isinstance(model, EpisodicControl):
            model.save(tmp)
        else:
            storage.save(tmp, model, record["algo"], _constructor_hyperparams(record))
        if encoder_path:
            shutil.copyfile(encoder_path, tmp / ENCODER_FILE)
        (tmp / SPEC_FILE).write_text(json.dumps(record, indent=2))
        for name in (storage.WEIGHTS_FILE, storage.POLICY_FILE, ENCODER_FILE, SPEC_FILE):
            if (tmp / name).exists():
                os.replace(tmp / name, out / name)
        (out / storage.LEGACY_FILE).unlink(missing_ok=True)  # an older save in the same folder
    return out


def _constructor_hyperparams(record: dict) -> dict:
    """The SB3 constructor arguments the agent was trained with (defaults merged with the record's
    overrides, as in :func:`train`), for rebuilding it on load; other keys are not SB3's."""
    hp = defaults_for(record["algo"], record["env_id"], record.get("hyperparams"),
                      variant(record["variant"]).input.reads)
    accepted = set(inspect.signature(ALGORITHMS.get(record["algo"]).cls).parameters)
    accepted -= {"policy", "env", "policy_kwargs", "seed", "device", "verbose", "tensorboard_log",
                 "_init_setup_model"}
    return {k: v for k, v in hp.items() if k in accepted}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
