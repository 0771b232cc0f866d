"""``darla metrics``: disentanglement scores of trained vision checkpoints against ground truth.

    darla metrics runs/x/vision/beta_vae/model.pt --env dsprites --out scores.json
    darla metrics a.pt b.pt c.pt --env darla/Room-v1 --domain source --metrics mig,dci,udr \\
        --set num_train=2000 --set dci.importance=forest --out scores.json

Every metric runs with the settings of Locatello et al. (2019) unless ``--set`` overrides them
(``key=value`` for every metric that has the setting, ``metric.key=value`` for one). With several
checkpoints each is scored separately and UDR compares them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Mapping

from artifacts import write_json_atomic


def register(subparsers) -> None:
    p = subparsers.add_parser("metrics", help="score vision checkpoints with disentanglement metrics",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="vision checkpoint(s) (darla see)")
    p.add_argument("--env", required=True, help="environment id or dataset with ground truth (see `darla envs`)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated metric names (default: every single-model metric, plus udr "
                        "when several checkpoints are given)")
    p.add_argument("--domain", default=None, help="sample factors only from this domain of the space")
    p.add_argument("--seed", type=int, default=0, help="seed of each metric's RandomState (default 0)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="[METRIC.]KEY=VALUE",
                   help="override a metric setting, e.g. num_train=2000 or dci.importance=forest (repeatable)")
    p.add_argument("--device", default="cpu", help="torch device for the encoders (default cpu)")
    p.add_argument("--out", required=True, help="JSON file to write the scores to")
    p.set_defaults(out_kind="file")  # checked by darla.cli before the command runs
    p.set_defaults(func=run)


def parse_settings(items: list[str]) -> dict:
    """``["num_train=100", "dci.importance=forest"]`` -> ``{"num_train": 100, "dci": {"importance": "forest"}}``."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE or METRIC.KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare word such as forest
        metric, dot, name = key.rpartition(".")
        if dot:
            out.setdefault(metric, {})[name] = value
        else:
            out[key] = value
    return out


def score_models(space, encoders: Mapping[str, object], names: list[str] | None = None, seed: int = 0,
                 domain: str | None = None, settings: Mapping | None = None,
                 log: Callable[[str], None] = lambda _msg: None) -> dict:
    """The JSON document ``darla metrics`` writes, for already-loaded encoders keyed by a label.

    ``{"scores": {label: {metric: {...}}}, "seconds": {...}, "udr": {...} (2+ models), "meta": {...}}``.
    """
    from eval import metrics

    settings = dict(settings or {})
    if names is None:
        names = metrics.names(include_multi_encoder=False) + (["udr"] if len(encoders) > 1 else [])
    for name in names:
        metrics.get(name)
    single = [n for n in names if not metrics.get(n).multi_encoder]
    multi = [n for n in names if metrics.get(n).multi_encoder]
    if multi and len(encoders) < 2:
        raise ValueError(f"{', '.join(multi)} compares several models: give at least 2 checkpoints")
    doc: dict = {"scores": {}, "seconds": {}}
    for label, encoder in encoders.items():
        doc["scores"][label], doc["seconds"][label] = {}, {}
        for name in single:
            start = time.perf_counter()
            result = metrics.evaluate(space, encoder, [name], seed, domain=domain, **_only(settings, name))
            doc["scores"][label][name] = result[name]
            doc["seconds"][label][name] = round(time.perf_counter() - start, 3)
            log(f"{label}  {name:12s} {_brief(result[name])}  ({doc['seconds'][label][name]:.1f} s)")
    for name in multi:
        start = time.perf_counter()
        result = metrics.get(name)(space, list(encoders.values()), seed,
                                   **({"domain": domain} if domain else {}), **_only(settings, name))
        result["models"] = list(encoders)
        doc[name] = result
        doc["seconds"][name] = round(time.perf_counter() - start, 3)
        log(f"{name}: " + ", ".join(f"{m}={s:.3f}" for m, s in zip(encoders, result["model_scores"])))
    doc["meta"] = {"seed": seed, "domain": domain, "metrics": list(names), "settings": settings,
                   "factors": [space.names[k] for k in _scored(space)], "versions": metrics.versions()}
    return doc


def _scored(space):
    from eval.metrics.utils import scored_factors
    return scored_factors(space)


def _only(settings: Mapping, name: str) -> dict:
    """Settings for one metric: the global keys it accepts, then its own ``name.key`` ones.

    Unknown keys fail here with a ValueError (printed by the CLI), not deep inside a metric.
    """
    from eval.metrics import registry

    known = registry.names()
    unknown = [k for k in settings if k not in known and not any(k in registry.get(n).defaults for n in known)]
    if unknown:
        listing = "; ".join(f"{n}: {', '.join(sorted(registry.get(n).defaults)) or '-'}" for n in known)
        raise ValueError(f"no metric has the setting(s) {unknown}; the settings of each metric are: {listing}")
    accepted = registry.get(name).defaults
    own = dict(settings.get(name, {}))
    wrong = sorted(set(own) - set(accepted))
    if wrong:
        raise ValueError(f"metric {name!r} has no setting(s) {wrong}; its settings are {sorted(accepted)}")
    return {**{k: v for k, v in settings.items() if k not in known and k in accepted}, **own}


def _brief(scores: Mapping) -> str:
    return "  ".join(f"{k}={v:.3f}" for k, v in scores.items() if isinstance(v, float))


def run(args) -> None:
    import envs
    import vision

    out = Path(args.out)
    names = [n.strip() for n in args.metrics.split(",") if n.strip()] if args.metrics else None
    settings = parse_settings(args.settings)
    space = envs.make_factor_space(args.env)
    if args.domain:
        space.domain(args.domain)  # unknown domain: fail before loading anything
    encoders = {}
    for path in args.checkpoints:
        if not Path(path).exists():
            raise FileNotFoundError(f"checkpoint {path} does not exist; train one with `darla see` first")
        encoders[path] = vision.load_encoder(path, device=args.device)
    doc = score_models(space, encoders, names, args.seed, args.domain, settings, log=print)
    doc["meta"].update({"env": args.env, "checkpoints": list(args.checkpoints)})
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, doc)
    print(f"wrote {out}")
