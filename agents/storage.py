"""A stable-baselines3 model saved as data only: safetensors weights and a JSON description.

SB3's own ``model.save`` writes a zip whose entries ``load`` unpickles, so opening a saved agent
could run code from the file. Here the model is rebuilt instead: ``policy.json`` names the
algorithm, the policy (``MlpPolicy``/``CnnPolicy``), the observation and action spaces, the
constructor hyperparameters and policy kwargs; the loader constructs a fresh model from them
around placeholder envs with those spaces and copies in the tensors of ``policy.safetensors``
(the policy's state_dict plus the algorithm's extra tensors, e.g. SAC's entropy coefficient).
Nothing read from either file is ever executed or unpickled.

What is not saved, as with SB3's default save: replay and rollout buffers and optimiser states,
which only further training would need; a loaded agent acts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv

from artifacts import file_sha256 as sha256

FORMAT = "darla.agent-policy/1"
WEIGHTS_FILE, POLICY_FILE = "policy.safetensors", "policy.json"
LEGACY_FILE = "model.zip"  # the SB3 archive of darla < this format: refused, never opened
_VARIABLES = "algorithm__"  # prefix of the algorithm's extra tensors in the weights file


class AgentFileError(ValueError):
    """A saved agent that cannot be loaded as it is (old format, corrupt, edited or unsafe)."""


# -- saving ----------------------------------------------------------------------------------------
def save(folder: Path, model: BaseAlgorithm, algo: str, hyperparams: Mapping[str, Any]) -> None:
    """Write ``policy.safetensors`` and ``policy.json`` of ``model`` into ``folder``.

    ``hyperparams`` are the constructor arguments the model was built with (without ``policy_kwargs``,
    which is read from the model); they must be JSON data, like everything a config can hold."""
    folder = Path(folder)
    policy_kwargs = dict(model.policy_kwargs)
    extractor = policy_kwargs.pop("features_extractor_class", None)
    policy_kwargs.pop("features_extractor_kwargs", None)  # rebuilt by the loader (it names a file path)
    aliases = {cls: alias for alias, cls in type(model).policy_aliases.items()}
    if type(model.policy) not in aliases:
        raise ValueError(f"cannot save a {type(model.policy).__name__} policy as data: only the named "
                         f"policies {sorted(type(model).policy_aliases)} of {algo} can be rebuilt")
    container = _with_variables(model)
    from safetensors.torch import save_model

    save_model(container, str(folder / WEIGHTS_FILE))
    description = {
        "format": FORMAT,
        "algo": algo,
        "policy": aliases[type(model.policy)],
        "features_extractor": extractor.__name__ if extractor else None,
        "policy_kwargs": _encode(policy_kwargs, "policy_kwargs"),
        "hyperparams": _encode({k: v for k, v in hyperparams.items() if k != "policy_kwargs"}, "hyperparams"),
        "n_envs": int(model.n_envs),
        "observation_space": _space_to_json(model.observation_space),
        "action_space": _space_to_json(model.action_space),
        "state": {"num_timesteps": int(model.num_timesteps),
                  **({"exploration_rate": float(model.exploration_rate)}
                     if hasattr(model, "exploration_rate") else {})},
        "weights_sha256": sha256(folder / WEIGHTS_FILE),
    }
    (folder / POLICY_FILE).write_text(json.dumps(description, indent=2, allow_nan=False))


# -- loading ---------------------------------------------------------------------------------------
def load(folder: Path, cls: type[BaseAlgorithm], algo: str, device: str = "cpu",
         features_extractor: tuple[type, dict] | None = None) -> BaseAlgorithm:
    """A fresh ``algo`` model rebuilt from ``folder``'s ``policy.json``, with the weights of
    ``policy.safetensors``; the class ``cls`` comes from the caller (the algorithm registry), never from the file.

    ``features_extractor`` (class, kwargs) supplies the extractor a policy was saved with (its
    class name is recorded; the class itself comes from the caller, never from the file)."""
    folder = Path(folder)
    refuse_legacy(folder)
    path = folder / POLICY_FILE
    description = read_json(path, "a saved agent's policy description")
    if description.get("format") != FORMAT:
        raise AgentFileError(f"{path} has format {description.get('format')!r}, expected {FORMAT!r}; it was "
                             "written by another darla version: retrain the agent")
    if description.get("algo") != algo:
        raise AgentFileError(f"{path} describes a {description.get('algo')!r} model but the agent record says "
                             f"{algo!r}; the folder mixes files of two agents: retrain it")
    try:
        policy_kwargs = _decode(description["policy_kwargs"])
        hyperparams = _decode(description["hyperparams"])
        observation_space = _space_from_json(description["observation_space"])
        action_space = _space_from_json(description["action_space"])
        n_envs, policy, wanted = int(description["n_envs"]), description["policy"], description["features_extractor"]
    except (KeyError, TypeError, ValueError) as err:
        raise AgentFileError(f"{path} is not a valid policy description ({type(err).__name__}: {err}); "
                             "retrain the agent") from None
    if policy not in cls.policy_aliases:
        raise AgentFileError(f"{path} names policy {policy!r}; {algo} knows {sorted(cls.policy_aliases)}")
    given = features_extractor[0].__name__ if features_extractor else None
    if wanted != given:
        raise AgentFileError(f"{path} was saved with features extractor {wanted!r} but is loaded with {given!r}; "
                             "its agent.json variant does not match the policy")
    if features_extractor:
        policy_kwargs.update(features_extractor_class=features_extractor[0],
                             features_extractor_kwargs=features_extractor[1])
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise AgentFileError(f"{folder} has {POLICY_FILE} but no {WEIGHTS_FILE}: an incomplete copy; copy the "
                             "whole agent folder or retrain it")
    if sha256(weights) != description.get("weights_sha256"):
        raise AgentFileError(f"{weights} does not match the sha256 recorded in {path}: the weights were changed "
                             "or damaged after saving; restore the folder or retrain the agent")
    if "buffer_size" in hyperparams:
        hyperparams["buffer_size"] = 1  # replay buffers are not saved; a loaded agent acts
    placeholder = DummyVecEnv([lambda: _Placeholder(observation_space, action_space)] * n_envs)
    try:
        model = cls(policy, placeholder, device=device, verbose=0, policy_kwargs=policy_kwargs, **hyperparams)
    except (TypeError, ValueError, AssertionError) as err:
        raise AgentFileError(f"{path}: cannot rebuild the {algo} model from its description "
                             f"({type(err).__name__}: {err}); retrain the agent") from None
    model.env = None  # a placeholder never to be stepped: acting goes through TrainedAgent.make_env
    _copy_weights(model, weights)
    model.num_timesteps = int(description.get("state", {}).get("num_timesteps", 0))
    if "exploration_rate" in description.get("state", {}):
        setattr(model, "exploration_rate", float(description["state"]["exploration_rate"]))  # DQN's
    return model


def refuse_legacy(folder: Path) -> None:
    """An agent folder from before this format holds ``model.zip`` (SB3's pickling archive): refuse it unread."""
    if not (Path(folder) / POLICY_FILE).exists() and (Path(folder) / LEGACY_FILE).exists():
        raise AgentFileError(
            f"{folder} was saved by an older darla version ({LEGACY_FILE}, a stable-baselines3 archive that "
            "could run code when unpickled); it is not loaded. Retrain the agent: `darla act ... --out "
            f"{folder}`, or `darla run CONFIG --force agent/VARIANT` for a run's agents")


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``; anything else fails with a message naming the file."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AgentFileError(f"{path} is not valid JSON ({type(err).__name__}: {err}); it should be {what}: "
                             "restore it or retrain the agent") from None
    if not isinstance(data, dict):
        raise AgentFileError(f"{path} holds a JSON {type(data).__name__}, not an object; it should be {what}")
    return data


class _Placeholder(gymnasium.Env):
    """Spaces only: the model is built around it and never steps it."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space):
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed=None, options=None):
        raise RuntimeError("a loaded agent's placeholder env cannot be stepped; act through TrainedAgent.make_env")

    def step(self, action):
        return self.reset()


def _with_variables(model: BaseAlgorithm) -> torch.nn.Module:
    """The policy and the algorithm's extra tensors (SB3's ``saved_pytorch_variables``) in one module,
    sharing their storage, so one safetensors file saves and loads both (shared tensors once)."""
    container = torch.nn.Module()
    container.policy = model.policy
    for name in model._get_torch_save_params()[1]:
        container.register_buffer(_VARIABLES + name.replace(".", "__"), _attr(model, name))
    return container


def _attr(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _copy_weights(model: BaseAlgorithm, weights: Path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    try:
        load_model(_with_variables(model), str(weights), strict=True, device=str(model.device))
    except (SafetensorError, RuntimeError, OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise AgentFileError(f"{weights} does not hold this policy's weights ({reason}); the file is damaged "
                             "or from another agent: retrain the agent") from None


# -- JSON encodings -----------------------------------------------------------------------------------
_MODULES = {"torch.nn": torch.nn, "torch.optim": torch.optim}


def _encode(value: Any, where: str) -> Any:
    """Plain JSON data; torch.nn / torch.optim classes (``activation_fn``) by name; anything else refused."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _encode(v, f"{where}.{k}") for k, v in value.items()}
    name = getattr(value, "__name__", "") if isinstance(value, type) else ""
    for prefix, module in _MODULES.items():
        if name and getattr(module, name, None) is value:
            return {"$class": f"{prefix}.{name}"}
    raise ValueError(f"{where} = {value!r} cannot be saved as data (JSON values and torch.nn / torch.optim "
                     "classes only); pass plain values")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$class"}:
            prefix, _, name = str(value["$class"]).rpartition(".")
            cls = getattr(_MODULES.get(prefix), name, None) if prefix in _MODULES else None
            if not isinstance(cls, type):
                raise ValueError(f"unknown class {value['$class']!r} (only torch.nn and torch.optim classes)")
            return cls
        return {k: _decode(v) for k, v in value.items()}
    return value


def _bound(array: np.ndarray) -> Any:
    """A Box bound: one number when uniform; non-finite values as the strings "inf"/"-inf"/"nan"."""
    flat = array.reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        return _encode(flat[0].item(), "bound")
    return [_encode(v, "bound") for v in array.tolist()] if array.ndim <= 1 else [_bound(a) for a in array]


def _space_to_json(space: spaces.Space) -> dict:
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _bound(space.low), "high": _bound(space.high)}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "dtype": str(space.dtype)}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    raise ValueError(f"cannot save a policy over a {type(space).__name__} space as data "
                     "(Box, Discrete, MultiDiscrete and MultiBinary only)")


def _space_from_json(data: dict) -> spaces.Space:
    kind = data["type"]
    if kind == "Box":
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in "fiu":
            raise ValueError(f"Box dtype {dtype} is not numeric")
        shape = tuple(int(n) for n in data["shape"])
        low, high = (np.broadcast_to(np.asarray(data[k], dtype=np.float64), shape).astype(dtype)
                     for k in ("low", "high"))
        return spaces.Box(low, high, shape, dtype=dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(data["nvec"], dtype=np.int64), dtype=np.dtype(data["dtype"]))
    if kind == "MultiBinary":
        return spaces.MultiBinary(data["n"])
    raise ValueError(f"unknown space type {kind!r}")
