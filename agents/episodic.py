"""Model-Free Episodic Control (Blundell et al. 2016, *Model-Free Episodic Control*): DARLA's third
base learner, next to DQN and A3C.

There is no network. Each action ``a`` keeps a table of (key → the highest discounted return ever
seen after taking ``a`` from that key); the key is the observation (frozen latent means, or the
oracle's one-hot code), optionally through a fixed Gaussian random projection as in the paper.
Acting reads ``Q(s, a)`` from the table when the key is stored exactly, and otherwise as the mean
value of its ``k`` nearest stored keys; actions are ε-greedy on these estimates. When an episode
ends, every step's return ``R_t = Σ γ^i r_{t+i}`` is written: ``Q(s, a) ← max(Q(s, a), R_t)`` for a
stored key, a new entry otherwise. Each table holds at most ``buffer_size`` entries; a full one drops
its least recently used entries (used = written, matched exactly, or returned as a neighbour).

Nearest neighbours come from scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors`, by default
with ``algorithm="brute"``, refitted lazily: tables change only when an episode is written, so the
index fitted at the first query after a write is exact for every query until the next write, and a
table that only had values raised is not refitted at all. Brute force rather than a KD-tree
because of what the keys are: latent codes with a few informative dimensions among 32, and one-hot
codes full of equidistant points, both defeat a tree's pruning. Measured on 30,000 oracle keys (one
core, CPU time per query of one key): brute 0.8 ms, KD-tree 2.4 ms and ball tree 2.1 ms (after a
random projection to 32-d), 3.8 / 5.5 ms on the raw 88-d one-hot codes; refitting a brute index
costs nothing, a tree 0.1–0.2 s. ``knn_algorithm`` passes another choice through to scikit-learn.

:class:`EpisodicControl` has the parts of a stable-baselines3 algorithm that the toolkit uses
(constructor arguments, ``learn`` with SB3 callbacks and logger, ``predict``, the spaces), so
``agents.train(..., algo="ec")``, ``darla act --algo ec`` and ``darla run ... agent.algo=ec`` train it
like PPO. It is saved as data: ``policy.safetensors`` holds the tables (and the projection),
``policy.json`` the settings and spaces; nothing is pickled.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ProgressBarCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnv

from agents import storage
from agents.storage import AgentFileError

FORMAT = "darla.episodic-control/1"
KNN_ALGORITHMS = ("brute", "kd_tree", "ball_tree", "auto")
CONTINUOUS_ALGORITHMS = ("ppo", "a2c", "sac")  # what to use instead when the actions are continuous


def check_settings(k, buffer_size, gamma, exploration_initial_eps, exploration_fraction, exploration_final_eps,
                   projection_dim, knn_algorithm) -> None:
    """Fail with the fix on settings EC cannot run with (used before training starts, and on load)."""
    def whole(name, value, low):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"EC's {name} must be an integer ≥ {low}, got {value!r}")

    whole("k", k, 1)
    whole("buffer_size", buffer_size, 1)
    whole("projection_dim", projection_dim, 0)
    if k > buffer_size:
        raise ValueError(f"EC's k={k} is larger than its buffer_size={buffer_size}: a k-nearest-neighbour "
                         f"estimate needs at least k entries per action; lower k or raise buffer_size")
    for name, value in (("gamma", gamma), ("exploration_initial_eps", exploration_initial_eps),
                        ("exploration_fraction", exploration_fraction),
                        ("exploration_final_eps", exploration_final_eps)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"EC's {name} must be a number in [0, 1], got {value!r}")
    if knn_algorithm not in KNN_ALGORITHMS:
        raise ValueError(f"EC's knn_algorithm must be one of {KNN_ALGORITHMS}, got {knn_algorithm!r}")


def check_input(variant_name: str, policy: str, fitting: Sequence[str]) -> None:
    """EC's tables need vector keys: a variant whose policy reads frames (SB3's ``CnnPolicy``) cannot use it."""
    if policy != "MlpPolicy":
        raise ValueError(f"algo 'ec' (episodic control) reads vector observations, but variant {variant_name!r} "
                         f"feeds frames to a {policy}: a table of pixels has no useful neighbours and EC has no "
                         f"gradient to fine-tune an encoder. Use EC with variant {' / '.join(fitting)}, or train "
                         f"{variant_name!r} with ppo, a2c or dqn")


class _ActionTable:
    """One action's (key → highest return) table: exact matches by a dict of key bytes, other keys by
    k nearest neighbours, least-recently-used eviction once ``capacity`` entries are stored."""

    def __init__(self, key_dim: int, capacity: int, k: int, knn_algorithm: str):
        self.capacity, self.k, self.knn_algorithm = capacity, k, knn_algorithm
        self.keys = np.zeros((0, key_dim), np.float32)
        self.values = np.zeros(0, np.float64)
        self.last_used = np.zeros(0, np.int64)
        self.size = 0
        self.index: dict[bytes, int] = {}
        self._knn = None  # fitted lazily; None whenever the keys changed since

    def estimate(self, keys: np.ndarray, clock: int | None = None) -> np.ndarray:
        """Q of each key: its stored value, else the mean value of its k nearest keys (all keys while
        fewer than k are stored); -inf for an empty table. ``clock`` marks the entries read as used."""
        out = np.full(len(keys), -np.inf)
        if self.size == 0:
            return out
        unseen = []
        for i, key in enumerate(keys):
            slot = self.index.get(key.tobytes())
            if slot is None:
                unseen.append(i)
            else:
                out[i] = self.values[slot]
                if clock is not None:
                    self.last_used[slot] = clock
        if unseen and self.size <= self.k:  # every entry is a neighbour: no search needed
            out[unseen] = self.values[:self.size].mean()
            if clock is not None:
                self.last_used[:self.size] = clock
        elif unseen:
            import sklearn

            # keys are finite float32 (checked on load, made by the env stack): skip the per-call checks
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                neighbours = self._neighbours().kneighbors(keys[unseen], n_neighbors=min(self.k, self.size),
                                                           return_distance=False)
            out[unseen] = self.values[neighbours].mean(axis=1)
            if clock is not None:
                self.last_used[neighbours.ravel()] = clock
        return out

    def _neighbours(self):
        if self._knn is None:
            from sklearn.neighbors import NearestNeighbors

            # a view of the table: any later key write resets _knn, so the index is never stale
            self._knn = NearestNeighbors(algorithm=self.knn_algorithm).fit(self.keys[:self.size])
        return self._knn

    def write(self, keys: np.ndarray, returns: np.ndarray, clock: int) -> None:
        """``Q(s) ← max(Q(s), R)`` for stored keys, new entries for the others (a key seen twice in
        ``keys`` counts once, with its highest return); a full table drops its least recently used."""
        best: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            b = key.tobytes()
            if b not in best or returns[i] > returns[best[b]]:
                best[b] = i
        new = []
        for b, i in best.items():
            slot = self.index.get(b)
            if slot is None:
                new.append((b, i))
            else:
                self.values[slot] = max(self.values[slot], returns[i])
                self.last_used[slot] = clock
        if not new:
            return
        new = new[-self.capacity:]
        free = self.capacity - self.size
        slots = list(range(self.size, self.size + min(free, len(new))))
        if len(new) > free:  # the least recently used entries (stable among equals: the oldest slots)
            victims = np.argsort(self.last_used[:self.size], kind="stable")[:len(new) - free]
            for slot in victims:
                del self.index[self.keys[slot].tobytes()]
            slots += victims.tolist()
        self._reserve(self.size + min(free, len(new)))
        for slot, (b, i) in zip(slots, new):
            self.keys[slot] = keys[i]
            self.values[slot] = returns[i]
            self.last_used[slot] = clock
            self.index[b] = slot
        self.size = min(self.capacity, self.size + len(new))
        self._knn = None

    def _reserve(self, n: int) -> None:
        """Room for ``n`` entries: storage grows by doubling up to ``capacity``, not allocated up front."""
        if n <= len(self.values):
            return
        grown = min(self.capacity, max(n, 2 * len(self.values), 1024))
        for name in ("keys", "values", "last_used"):
            old = getattr(self, name)
            new = np.zeros((grown,) + old.shape[1:], old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"keys": self.keys[:self.size].copy(), "values": self.values[:self.size].copy(),
                "last_used": self.last_used[:self.size].copy()}

    def restore(self, keys: np.ndarray, values: np.ndarray, last_used: np.ndarray, where: str) -> None:
        n = len(values)
        if keys.shape != (n, self.keys.shape[1]) or last_used.shape != (n,) or n > self.capacity:
            raise AgentFileError(f"{where}: a table of keys {keys.shape}, values {values.shape}, last_used "
                                 f"{last_used.shape} does not fit {self.keys.shape[1]}-d keys and "
                                 f"buffer_size={self.capacity}; the file is damaged: retrain the agent")
        if not (np.isfinite(keys).all() and np.isfinite(values).all()):
            raise AgentFileError(f"{where}: a table holds non-finite keys or values; retrain the agent")
        self.keys, self.values = keys.astype(np.float32), values.astype(np.float64)
        self.last_used, self.size = last_used.astype(np.int64), n
        self.index = {key.tobytes(): slot for slot, key in enumerate(self.keys)}
        if len(self.index) != n:
            raise AgentFileError(f"{where}: a table stores the same key twice; the file is damaged: retrain the agent")
        self._knn = None


class EpisodicControl:
    """Model-Free Episodic Control over vector observations and discrete actions (see the module doc).

    The constructor takes SB3's positional ``policy`` and ``env`` so that ``agents.train`` builds it
    like the other algorithms; ``policy`` must be ``"MlpPolicy"`` (vector input), ``device`` is
    accepted and unused (tables live in numpy). ``projection_dim`` > 0 keys the tables on a fixed
    Gaussian random projection of the observation (the paper's choice for pixels); 0 keys them on the
    observation itself. ε decays linearly from ``exploration_initial_eps`` to
    ``exploration_final_eps`` over the first ``exploration_fraction`` of the steps of ``learn``.
    With several envs (``n_envs``) one neighbour search per action serves all of them, and each
    env's episode is written when it ends; the paper's single actor is ``n_envs=1``."""

    def __init__(self, policy: str, env: VecEnv, k: int = 11, buffer_size: int = 100_000, gamma: float = 0.99,
                 exploration_initial_eps: float = 1.0, exploration_fraction: float = 0.1,
                 exploration_final_eps: float = 0.05, projection_dim: int = 0, knn_algorithm: str = "brute",
                 policy_kwargs: dict | None = None, seed: int | None = None, device: str = "cpu", verbose: int = 0):
        if policy != "MlpPolicy":
            raise ValueError(f"EC reads vector observations (policy 'MlpPolicy'), got {policy!r}: frames need "
                             "a frozen encoder first (variants darla, darla_ent, darla_dae) or the oracle")
        if policy_kwargs:
            raise ValueError(f"EC has no network, so policy_kwargs {policy_kwargs} mean nothing to it; drop them")
        self.settings: dict[str, Any] = {"k": k, "buffer_size": buffer_size, "gamma": gamma,
                         "exploration_initial_eps": exploration_initial_eps,
                         "exploration_fraction": exploration_fraction, "exploration_final_eps": exploration_final_eps,
                         "projection_dim": projection_dim, "knn_algorithm": knn_algorithm}
        self.env: VecEnv | None = env
        self._setup(env.observation_space, env.action_space, env.num_envs, seed)
        self.verbose = verbose

    def _setup(self, observation_space: spaces.Space, action_space: spaces.Space, n_envs: int,
               seed: int | None, projection: np.ndarray | None = None) -> None:
        check_settings(**self.settings)
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"EC needs discrete actions (one table per action), but the env's action space is "
                             f"{action_space}; for continuous actions use {', '.join(CONTINUOUS_ALGORITHMS)}")
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"EC keys its tables on flat vectors, but the observations are {observation_space}; "
                             "encode frames with a frozen vision model first (variant darla) or use the oracle")
        self.observation_space, self.action_space, self.n_envs = observation_space, action_space, int(n_envs)
        obs_dim, proj = int(observation_space.shape[0]), int(self.settings["projection_dim"])
        self.rng = np.random.default_rng(seed)
        if projection is None and proj:
            # the paper's random projection: entries N(0, 1/d), so distances are kept in expectation
            projection = self.rng.normal(0.0, 1.0 / np.sqrt(proj), (obs_dim, proj)).astype(np.float32)
        self.projection = projection
        key_dim = proj or obs_dim
        self.tables = [_ActionTable(key_dim, int(self.settings["buffer_size"]), int(self.settings["k"]),
                                    self.settings["knn_algorithm"]) for _ in range(int(action_space.n))]
        self.num_timesteps = 0
        self.exploration_rate = float(self.settings["exploration_initial_eps"])
        self.logger = Logger(None, [])

    # -- the parts of SB3's BaseAlgorithm the toolkit uses ------------------------------------------
    def get_env(self) -> VecEnv | None:
        return self.env

    def set_logger(self, logger: Logger) -> None:
        self.logger = logger

    def predict(self, observation: np.ndarray, state=None, episode_start=None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:
        """Actions for a batch of observations: greedy (lowest action among equal estimates) when
        ``deterministic``, else ε-greedy with the current ε and random tie-breaking. Reading does not
        mark entries as used, so evaluating an agent leaves it exactly as it was."""
        observation = np.asarray(observation, np.float32).reshape(-1, self.observation_space.shape[0])
        q = self.q_values(observation)
        if deterministic:
            return q.argmax(axis=1), None
        return self._explore(q), None

    def learn(self, total_timesteps: int, callback: BaseCallback | Sequence[BaseCallback] | None = None,
              progress_bar: bool = False, log_interval: int = 10, **_ignored) -> "EpisodicControl":
        """Act ε-greedily in ``self.env`` for ``total_timesteps`` steps, writing each finished episode
        into the tables; SB3 callbacks see ``self`` as their model and may stop training early."""
        env, n = self.env, self.n_envs
        if env is None:
            raise RuntimeError("a loaded EC agent has no env to learn in; act through TrainedAgent.make_env")
        callbacks: list[BaseCallback] = (list(callback) if isinstance(callback, (list, tuple))
                                         else [callback] if isinstance(callback, BaseCallback) else [])
        if progress_bar:
            callbacks.append(ProgressBarCallback())
        callback = CallbackList(callbacks)
        callback.init_callback(self)  # type: ignore[arg-type]  # SB3 callbacks read only what EC provides
        start, total_timesteps = self.num_timesteps, self.num_timesteps + int(total_timesteps)
        episodes: list[tuple[list, list, list]] = [([], [], []) for _ in range(n)]
        recent: deque[float] = deque(maxlen=100)
        finished, began = 0, time.perf_counter()
        callback.on_training_start(locals(), globals())
        obs = env.reset()
        while self.num_timesteps < total_timesteps:
            progress = (self.num_timesteps - start) / max(1, total_timesteps - start)
            self.exploration_rate = self._epsilon(progress)
            keys = self._keys(np.asarray(obs, np.float32))
            q = np.stack([table.estimate(keys, clock=self.num_timesteps) for table in self.tables], axis=1)
            actions = self._explore(q)
            obs, rewards, dones, infos = env.step(actions)
            self.num_timesteps += n
            for i in range(n):
                episode_keys, episode_actions, episode_rewards = episodes[i]
                episode_keys.append(keys[i])
                episode_actions.append(int(actions[i]))
                episode_rewards.append(float(rewards[i]))
                if dones[i]:
                    self._write(np.stack(episode_keys), np.asarray(episode_actions), np.asarray(episode_rewards))
                    recent.append(float(infos[i].get("episode", {}).get("r", sum(episode_rewards))))
                    episodes[i] = ([], [], [])
                    finished += 1
                    if log_interval and finished % log_interval == 0:
                        self._log(recent, began, start)
            callback.update_locals(locals())
            if not callback.on_step():
                break
        callback.on_training_end()
        self._log(recent, began, start)
        return self

    # -- episodic control -----------------------------------------------------------------------------
    def q_values(self, observations: np.ndarray) -> np.ndarray:
        """``(n, actions)`` estimates of a batch of observations (read-only: nothing is marked used)."""
        keys = self._keys(np.asarray(observations, np.float32))
        return np.stack([table.estimate(keys) for table in self.tables], axis=1)

    def record_episode(self, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Write one finished episode (observations ``s_0..s_{T-1}``, the actions taken, the rewards)."""
        keys = self._keys(np.asarray(observations, np.float32))
        self._write(keys, np.asarray(actions), np.asarray(rewards, np.float64))

    def _write(self, keys: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        returns = np.empty(len(rewards))
        running, gamma = 0.0, float(self.settings["gamma"])
        for t in range(len(rewards) - 1, -1, -1):
            running = rewards[t] + gamma * running
            returns[t] = running
        for a, table in enumerate(self.tables):
            taken = actions == a
            if taken.any():
                table.write(keys[taken], returns[taken], self.num_timesteps)

    def _keys(self, observations: np.ndarray) -> np.ndarray:
        keys = observations if self.projection is None else observations @ self.projection
        # + 0.0 turns -0.0 into 0.0: equal keys must have equal bytes for the exact-match dict
        return np.ascontiguousarray(keys, dtype=np.float32) + np.float32(0.0)

    def _explore(self, q: np.ndarray) -> np.ndarray:
        """ε-greedy; ties among the best estimates (all -inf at the start) broken at random."""
        best = q == q.max(axis=1, keepdims=True)
        actions = (self.rng.random(q.shape) * best).argmax(axis=1)
        explore = self.rng.random(len(q)) < self.exploration_rate
        actions[explore] = self.rng.integers(q.shape[1], size=int(explore.sum()))
        return actions

    def _epsilon(self, progress: float) -> float:
        s = self.settings
        if s["exploration_fraction"] <= 0 or progress >= s["exploration_fraction"]:
            return float(s["exploration_final_eps"])
        t = progress / s["exploration_fraction"]
        return float(s["exploration_initial_eps"] + t * (s["exploration_final_eps"] - s["exploration_initial_eps"]))

    def _log(self, recent, began: float, start: int) -> None:
        if recent:
            self.logger.record("rollout/ep_rew_mean", float(np.mean(recent)))
        self.logger.record("ec/entries", int(sum(t.size for t in self.tables)))
        self.logger.record("rollout/exploration_rate", self.exploration_rate)
        self.logger.record("time/fps", int((self.num_timesteps - start) / max(time.perf_counter() - began, 1e-9)))
        self.logger.dump(self.num_timesteps)

    # -- saving as data -------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        """``policy.safetensors`` (each action's keys, values and last-use steps; the projection) and
        ``policy.json`` (settings, spaces, step counters and the weights' sha256)."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        arrays = {f"action{a}.{name}": array for a, table in enumerate(self.tables)
                  for name, array in table.arrays().items()}
        if self.projection is not None:
            arrays["projection"] = np.ascontiguousarray(self.projection)
        save_file(arrays, str(folder / storage.WEIGHTS_FILE))
        description = {
            "format": FORMAT, "algo": "ec", "settings": self.settings, "n_envs": self.n_envs,
            "observation_space": storage._space_to_json(self.observation_space),
            "action_space": storage._space_to_json(self.action_space),
            "state": {"num_timesteps": int(self.num_timesteps), "exploration_rate": float(self.exploration_rate)},
            "weights_sha256": storage.sha256(folder / storage.WEIGHTS_FILE),
        }
        (folder / storage.POLICY_FILE).write_text(json.dumps(description, indent=2, allow_nan=False))

    @classmethod
    def load(cls, folder: str | Path) -> "EpisodicControl":
        """An agent rebuilt from :meth:`save`'s two files; reads JSON and safetensors only."""
        folder = Path(folder)
        storage.refuse_legacy(folder)
        path, weights = folder / storage.POLICY_FILE, folder / storage.WEIGHTS_FILE
        description = storage.read_json(path, "a saved episodic-control agent's description")
        if description.get("format") != FORMAT:
            raise AgentFileError(f"{path} has format {description.get('format')!r}, expected {FORMAT!r}: the "
                                 "agent record says 'ec' but the policy is another algorithm's; retrain the agent")
        if not weights.is_file():
            raise AgentFileError(f"{folder} has {storage.POLICY_FILE} but no {storage.WEIGHTS_FILE}: an incomplete "
                                 "copy; copy the whole agent folder or retrain it")
        if storage.sha256(weights) != description.get("weights_sha256"):
            raise AgentFileError(f"{weights} does not match the sha256 recorded in {path}: the tables were "
                                 "changed or damaged after saving; restore the folder or retrain the agent")
        model = cls.__new__(cls)
        try:
            settings = description["settings"]
            if not isinstance(settings, Mapping) or set(settings) != set(_default_settings()):
                raise ValueError(f"settings must name exactly {sorted(_default_settings())}")
            model.settings = dict(settings)
            observation_space = storage._space_from_json(description["observation_space"])
            action_space = storage._space_from_json(description["action_space"])
            n_envs = int(description["n_envs"])
            state = description.get("state", {})
            arrays = _read_arrays(weights)
            model._setup(observation_space, action_space, n_envs, seed=0, projection=arrays.pop("projection", None))
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, AgentFileError):
                raise
            raise AgentFileError(f"{path} is not a valid episodic-control description ({type(err).__name__}: "
                                 f"{err}); retrain the agent") from None
        expected = (int((observation_space.shape or (0,))[0]), model.settings["projection_dim"])
        if model.projection is not None and model.projection.shape != expected:
            raise AgentFileError(f"{weights}: projection of shape {model.projection.shape}, expected {expected}")
        if model.projection is None and model.settings["projection_dim"]:
            raise AgentFileError(f"{weights} lacks the random projection its settings name; retrain the agent")
        for a, table in enumerate(model.tables):
            try:
                parts = [arrays.pop(f"action{a}.{name}") for name in ("keys", "values", "last_used")]
            except KeyError:
                raise AgentFileError(f"{weights} lacks the table of action {a}; retrain the agent") from None
            table.restore(parts[0], parts[1], parts[2], where=str(weights))
        if arrays:
            raise AgentFileError(f"{weights} holds unexpected arrays {sorted(arrays)}; retrain the agent")
        model.num_timesteps = int(state.get("num_timesteps", 0))
        model.exploration_rate = float(state.get("exploration_rate", model.settings["exploration_final_eps"]))
        model.env, model.verbose = None, 0
        return model


def _default_settings() -> dict[str, Any]:
    import inspect

    names = ("k", "buffer_size", "gamma", "exploration_initial_eps", "exploration_fraction", "exploration_final_eps",
             "projection_dim", "knn_algorithm")
    signature = inspect.signature(EpisodicControl)
    return {name: signature.parameters[name].default for name in names}


def _read_arrays(weights: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise AgentFileError(f"{weights} is not a readable safetensors file ({err}); retrain the agent") from None
