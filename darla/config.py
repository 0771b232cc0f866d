"""The experiment config: one typed tree for collect → see → act → transfer, and its presets.

Presets ship as JSON files in ``darla/presets/``; ``darla run NAME`` loads one (or a path to a JSON
file of the same shape), command-line ``key=value`` overrides update it, and the resolved config
is saved in the run directory. Vision hyperparameters are per method (``vision.methods.beta_vae_dae.beta``)
and are type-checked by the method's own ``Config`` when its stage runs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import agents.hyperparams  # also binds the package: agents.VARIANTS


@dataclass
class CollectConfig:
    """Stage 1 data: frames from the source domain, by a uniform random policy's rollouts or by
    states drawn uniformly from the factor space (``sampling``, see :mod:`envs.collect`).
    ``domain`` is the source domain of the whole run (stage 1 frames and the agents' training);
    empty means the env's training domain (the first its factor space declares)."""
    frames: int = 20_000
    domain: str = ""
    seed: int = 0
    sampling: str = "auto"


@dataclass
class VisionConfig:
    """Stage 1 models, one per method the variants need, shared by every RL seed. ``method`` is the
    backbone of the `darla` and `darla_ft` variants (`vision.method=beta_tcvae` swaps it). With
    ``seeds`` (two or more), the backbone is trained once per seed and one model is kept by the
    unsupervised ``selection`` rule on source frames (see :mod:`eval.selection`). A collapsed model
    (no active latent, or a reconstruction no better than the mean image) is flagged with a warning,
    or stops the run with ``strict``."""
    method: str = "beta_vae_dae"
    seed: int = 0
    seeds: list[int] = field(default_factory=list)  # several backbone seeds, one kept by `selection`
    selection: str = "udr"                           # udr | reconstruction | first (eval.selection)
    device: str = "cpu"
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> hyperparameter overrides
    strict: bool = False  # a collapsed vision model stops the run at the end of stage 1 (else: a warning)


@dataclass
class AgentConfig:
    """Stage 2: the RL algorithm, its budget and overrides of ``agents.hyperparams`` defaults:
    ``hyperparams`` for every variant, then ``per_input`` for the variants whose policy reads
    ``latents``, ``frames`` or ``factors`` (``agent.per_input.latents.n_epochs=10``), since a short
    budget on a 32-number code wants other settings than a CNN on frames."""
    algo: str = "ppo"
    steps: int = 100_000
    hyperparams: dict[str, Any] = field(default_factory=dict)
    per_input: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "cpu"
    eval_every: int = 0          # periodic evaluation on every transfer domain (TensorBoard); 0 = off
    eval_episodes: int = 8
    standardize: bool = False    # frozen-vision variants: codes standardised with stage-1 statistics


@dataclass
class TransferConfig:
    """Stage 3: zero-shot evaluation of the unchanged agents, on ``domains`` (empty: every domain the
    env declares, its training domain first), then on each of ``shifts``: name → a list of
    :mod:`envs.wrappers` (``{"hue90": [{"name": "hue_rotate", "degrees": 90}]}``) through which the
    agents see their training domain, reported like a domain under that name (docs/wrappers.md)."""
    domains: list[str] = field(default_factory=list)
    episodes: int = 20
    seed: int = 10_000
    shifts: dict[str, list] = field(default_factory=dict)


@dataclass
class MetricsConfig:
    """Disentanglement scores of each vision model against the env's ground truth (empty: none),
    with factors drawn from ``domain`` (empty: the run's source domain)."""
    names: list[str] = field(default_factory=list)
    domain: str = ""
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScanSection:
    """The optional SCAN stage (Higgins et al. 2018, docs/scan.md): symbols grounded in the run's
    frozen vision model (the selected seed's, among several), trained after stage 1 on (frame,
    k-hot symbol) pairs drawn from the source domain's ground truth. It runs when ``factors`` names
    at least one factor (the factors its symbols name); ``method`` is the vision method it builds
    on (empty: ``vision.method``), which must have a Gaussian posterior. ``named``: how many factors
    a training symbol names, [N] or [MIN, MAX]. ``heldout`` two-factor concepts are kept out of
    training to measure recombination; ``probe_frames`` ground-truth frames fit the classifiers that
    read generated frames (``eval.scan_accuracy``). ``show``: concepts drawn in ``sym2img.png``
    (``"wall_colour=hue0,floor_colour=hue30"``; empty: six training concepts). ``settings``: SCAN's
    hyperparameters (``vision.scan.ScanConfig``: steps, beta, grounding_weight, operator_steps, ...)."""
    factors: list[str] = field(default_factory=list)
    method: str = ""
    named: list[int] = field(default_factory=lambda: [1, 2])
    concepts: int = 300
    examples: int = 10
    recombinations: int = 1000
    operators: list[str] = field(default_factory=lambda: ["and", "in_common", "ignore"])
    heldout: int = 20
    show: list[str] = field(default_factory=list)
    samples: int = 8
    probe_frames: int = 2000
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.factors)


@dataclass
class RunConfig:
    """The whole experiment. ``imports`` are modules imported before anything is looked up, in this
    process and in every worker (a user's package that registers an env, a vision method or a
    metric); ``env`` may be gymnasium's ``module:EnvId``, whose module joins ``imports``.
    ``domains`` makes ``env`` a level-1 env, one without ground truth: each domain, the source
    first, is ``{"kwargs": {...}, "wrappers": [...]}`` (see :func:`envs.registry.register_domains`)."""
    name: str = "experiment"
    env: str = "darla/Room-v1"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    variants: list[str] = field(default_factory=lambda: ["darla", "pixels"])
    seeds: list[int] = field(default_factory=lambda: [0])
    threads: int = 2                 # torch threads of the main process
    jobs: int = 1                    # (variant, seed) agents trained side by side, one thread each
    collect: CollectConfig = field(default_factory=CollectConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    scan: ScanSection = field(default_factory=ScanSection)

    def validate(self) -> "RunConfig":
        check_run_name(self.name)
        self.activate()
        _check_numbers(self)
        unknown = [v for v in self.variants if v not in agents.VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f"unknown variant(s) {unknown or '(none given)'}; known: {list(agents.VARIANTS)}")
        if self.agent.algo not in agents.ALGORITHMS:
            raise ValueError(agents.ALGORITHMS.unknown_message(self.agent.algo))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {self.seeds}")
        import envs.collect
        import vision

        envs.collect.check_sampling(self.collect.sampling)
        from eval import selection

        selection.check_rule(self.vision.selection)
        if len(set(self.vision.seeds)) != len(self.vision.seeds) or len(self.vision.seeds) == 1:
            raise ValueError(f"vision.seeds must be empty (one model, vision.seed) or at least 2 distinct "
                             f"integers, got {self.vision.seeds}")
        vision.methods.get(self.vision.method)  # an unknown backbone lists the known ones
        _resolve_domains(self)
        _check_ground_truth(self)
        _check_sections(self)
        from darla import scan_stage

        scan_stage.check(self)
        return self

    def activate(self) -> "RunConfig":
        """Import the user's modules and entry points and declare a level-1 env's domains: what a
        process needs before it looks up the env, a method or a metric. :meth:`validate` calls it,
        and so does each worker process of the pipeline, which starts as a fresh interpreter."""
        from darla import plugins

        if not isinstance(self.imports, list) or not all(isinstance(m, str) and m for m in self.imports):
            raise ValueError(f"imports must be a list of module names (e.g. [\"my_envs\"]), got {self.imports!r}")
        module, self.env = plugins.split_env(self.env)
        if module and module not in self.imports:
            self.imports = [*self.imports, module]
        plugins.load_entry_points()
        plugins.import_modules(self.imports)
        if self.domains:
            import envs

            envs.register_domains(self.env, self.domains, self.env_kwargs)
        return self

    @property
    def ground_truth(self) -> bool:
        """Whether the env has a FactorSpace (level 2); a level-1 env (``domains`` given) has none."""
        return not self.domains

    @property
    def source(self) -> str:
        """The run's source domain: stage 1 frames and the agents' training (resolved by validate)."""
        return self.collect.domain

    def agent_hyperparams(self, variant: str) -> dict:
        """The RL overrides one variant trains with: ``agent.hyperparams``, then its input's ``per_input``."""
        return {**self.agent.hyperparams, **self.agent.per_input.get(agents.variant(variant).input.reads, {})}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        return _build(cls, data, "")


MAX_FRAMES = 10_000_000       # 120 GB of 64×64 RGB frames: beyond it, a typo rather than a plan
MAX_EPISODES = 1_000_000


def check_run_name(name) -> str:
    """A run name is one plain path component, so its run directory stays inside the runs dir."""
    if (not isinstance(name, str) or name.strip() in ("", ".", "..") or any(c in name for c in "/\\\0")
            or Path(name).name != name):
        raise ValueError(f"run name {name!r} must be one plain folder name (no '/', '\\', not empty, '.' or "
                         "'..'): the run directory is created inside --runs-dir; e.g. name=room_seed3")
    return name


def _resolve_domains(config: "RunConfig") -> None:
    """Fill the empty domain settings from the env's factor space and check every named domain
    against it, before any stage runs: an env names its own domains (not only source/target/ood)."""
    import envs

    declared = envs.registry.declared_domains(config.env, **config.env_kwargs)
    config.collect.domain = config.collect.domain or declared[0]
    config.transfer.domains = list(config.transfer.domains) or list(declared)
    config.metrics.domain = config.metrics.domain or config.collect.domain
    named = {"collect.domain": [config.collect.domain], "transfer.domains": config.transfer.domains,
             "metrics.domain": [config.metrics.domain]}
    unknown = [f"{key}={name!r}" for key, names in named.items() for name in names if name not in declared + ["all"]]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: {config.env} has no such domain; its domains: {declared}")
    if config.collect.domain not in config.transfer.domains:
        raise ValueError(f"transfer.domains {config.transfer.domains} must include the source domain "
                         f"{config.collect.domain!r} (collect.domain): every 'vs source' ratio divides by it")
    if len(set(config.transfer.domains)) != len(config.transfer.domains):
        raise ValueError(f"transfer.domains {config.transfer.domains} names a domain twice")
    check_shifts(config.transfer.shifts, declared, config.env, config.env_kwargs, base=config.collect.domain)


def check_shifts(shifts, domains: list[str], env_id: str, env_kwargs: dict, base: str | None = None) -> None:
    """Visual shifts, checked before any stage runs: a mapping of new names (not one of ``domains``)
    to wrapper specs that build on the ``base`` domain the agents train on (default: the first of
    ``domains``; names, parameters and values) and keep its frames' shape, which the agents'
    encoders and policies take; every problem in one message."""
    import envs

    if not isinstance(shifts, dict):
        raise ValueError(f"transfer.shifts must map a shift's name to a list of wrappers, e.g. "
                         f'{{"hue90": [{{"name": "hue_rotate", "degrees": 90}}]}}; got {shifts!r}')
    problems = []
    for name, spec in shifts.items():
        if not isinstance(name, str) or not name.strip() or name in domains + ["all"]:
            problems.append(f"transfer.shifts: {name!r} is not a name of its own (the env's domains: {domains})")
            continue
        if not isinstance(spec, list) or not spec:
            problems.append(f"transfer.shifts.{name}: a non-empty list of wrappers, got {spec!r}")
            continue
        env = envs.registry.make_env(env_id, domain=base or domains[0], **env_kwargs)
        plain = env.observation_space.shape
        try:
            env = envs.apply_wrappers(env, spec)
            shapes = plain, env.observation_space.shape
        except (TypeError, ValueError, KeyError) as err:
            problems.append(f"transfer.shifts.{name}: {err.args[0] if err.args else err}")
            continue
        finally:
            env.close()
        if shapes[0] != shapes[1]:
            problems.append(f"transfer.shifts.{name}: turns {env_id}'s {shapes[0]} frames into {shapes[1]}; a "
                            "shift must keep the frames' shape (the agents read it unchanged)")
    if problems:
        raise ValueError("; ".join(problems))


def _check_ground_truth(config: "RunConfig") -> None:
    """A level-1 env has no factors: refuse what needs them, naming each (metrics are skipped, not refused)."""
    if config.ground_truth:
        return
    problems = []
    if config.collect.sampling == "factors":
        problems.append("collect.sampling=factors draws states from a FactorSpace; use rollout (or auto)")
    for name in config.variants:
        if agents.variant(name).input.ground_truth:
            problems.append(f"variant {name!r} observes ground-truth factors; leave it out of variants")
    if problems:
        raise ValueError(f"{config.env} has no ground truth (a level-1 env: its domains are sets of kwargs and "
                         f"wrappers): {'; '.join(problems)}")


def _check_numbers(config: "RunConfig") -> None:
    """Whole numbers where counts and seeds are meant, in sane ranges; every problem in one message."""
    problems = []
    counts = {"collect.frames": (config.collect.frames, 1, MAX_FRAMES), "agent.steps": (config.agent.steps, 1, None),
              "transfer.episodes": (config.transfer.episodes, 1, MAX_EPISODES), "threads": (config.threads, 1, None),
              "jobs": (config.jobs, 1, None), "agent.eval_every": (config.agent.eval_every, 0, None),
              "agent.eval_episodes": (config.agent.eval_episodes, 1, MAX_EPISODES)}
    for key in ("collect.seed", "vision.seed", "transfer.seed", "metrics.seed"):
        section, _, leaf = key.partition(".")
        counts[key] = (getattr(getattr(config, section), leaf), 0, None)
    for i, seed in enumerate(list(config.seeds) + list(config.vision.seeds)):
        key = f"seeds[{i}]" if i < len(config.seeds) else f"vision.seeds[{i - len(config.seeds)}]"
        counts[key] = (seed, 0, None)
    for key, (value, low, high) in counts.items():
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{key} must be a whole number, got {value!r}")
        elif value < low:
            problems.append(f"{key} must be {'positive' if low == 1 else '>= 0'}, got {value}")
        elif high is not None and value > high:
            problems.append(f"{key}={value:,} is more than {high:,}; is it a typo? ask for fewer")
    if problems:
        raise ValueError("; ".join(problems))


def _check_sections(config: "RunConfig") -> None:
    """The free-form sections (vision methods', agent's and metrics' settings) against the real
    signatures they are passed to, so a typo fails before the collect stage, not after it."""
    import inspect

    import vision
    from vision import config as vision_config

    problems = []
    for method, overrides in config.vision.methods.items():
        try:
            cls = vision.methods.get(method)
            vision_config.update(cls.Config(), dict(overrides)).validate()
        except (ValueError, TypeError, AttributeError) as err:
            problems.append(f"vision.methods.{method}: {err}")
    inputs = ("latents", "frames", "factors")
    if set(config.agent.per_input) - set(inputs) or not all(isinstance(v, dict) for v in config.agent.per_input.values()):
        problems.append(f"agent.per_input: keys are what a policy reads, {list(inputs)}, each a mapping of "
                        f"settings (e.g. agent.per_input.latents.n_epochs=10); got {config.agent.per_input}")
    for name in config.variants:  # e.g. EC on a variant that reads frames, or k > buffer_size
        try:
            agents.check_algorithm(config.agent.algo, name, config.env, config.agent_hyperparams(name),
                                   config.env_kwargs)
        except (KeyError, ValueError) as err:
            message = f"agent.algo={config.agent.algo}: {err.args[0] if err.args else err}"
            problems += [] if message in problems else [message]
    algo = agents.ALGORITHMS.get(config.agent.algo).cls
    accepted = (set(inspect.signature(algo).parameters) | {"n_envs"}) - {
        "policy", "env", "seed", "device", "verbose", "tensorboard_log", "_init_setup_model"}
    for where, given in [("agent.hyperparams", config.agent.hyperparams),
                         *((f"agent.per_input.{k}", v) for k, v in config.agent.per_input.items() if isinstance(v, dict))]:
        unknown = sorted(set(given) - accepted)
        if unknown:
            problems.append(f"{where}: {config.agent.algo} has no setting(s) {unknown}; valid: {sorted(accepted)}")
    if config.metrics.names:
        from eval.metrics import registry

        try:
            for name in config.metrics.names:
                registry.get(name)
            registry.settings_per_metric(list(config.metrics.names), dict(config.metrics.settings))
        except (KeyError, TypeError, ValueError) as err:
            problems.append(f"metrics: {err.args[0] if err.args else err}")
    if problems:
        raise ValueError("; ".join(problems))


def _build(cls: Any, data: dict, prefix: str):
    if not isinstance(data, dict):
        raise ValueError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown config key(s) {[prefix + k for k in unknown]}; "
                         f"valid keys here: {[prefix + k for k in known]}")
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name) if isinstance(cls, type) and dataclasses.is_dataclass(cls) else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{prefix}{name}.")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def preset_names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in resources.files("darla.presets").iterdir()
                  if p.name.endswith(".json"))


def load(name_or_path: str) -> RunConfig:
    """A preset by name, or a JSON config file by path; an unknown name lists the presets."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.exists():
        data = json.loads(path.read_text())
    elif name_or_path in preset_names():
        data = json.loads(resources.files("darla.presets").joinpath(f"{name_or_path}.json").read_text())
    else:
        raise KeyError(f"no preset or config file {name_or_path!r}; presets: {preset_names()} "
                       "(or give the path of a .json config)")
    data.setdefault("name", path.stem if path.suffix == ".json" else name_or_path)
    return RunConfig.from_dict(data)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``key.sub=value`` strings applied to a config mapping (a new one is returned).

    Keys of typed sections must exist (the error lists the valid ones); under free-form mappings
    (``env_kwargs``, ``vision.methods.<method>``, ``agent.hyperparams``) any key may be set."""
    from darla.overrides import parse_loose, split

    data = json.loads(json.dumps(data))
    for key, text in split(overrides).items():
        *parents, leaf = key.split(".")
        node, free = data, False
        for depth, part in enumerate(parents):
            if not isinstance(node, dict) or (part not in node and not free):
                raise ValueError(f"unknown config key {'.'.join(parents[:depth + 1])!r}; valid: {sorted(node)}")
            free = free or part in FREE_FORM
            node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"{'.'.join(parents)} is not a section, cannot set {key!r}")
        if leaf not in node and not (free or leaf in FREE_FORM):
            raise ValueError(f"unknown config key {key!r}; valid: {sorted(node)}")
        try:
            node[leaf] = parse_loose(text, node.get(leaf))
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from None
    return data


FREE_FORM = ("env_kwargs", "methods", "hyperparams", "per_input", "settings", "domains", "shifts")
