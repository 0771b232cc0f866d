"""``darla metrics``: disentanglement scores of trained vision checkpoints against ground truth.

    darla metrics runs/x/vision/beta_vae/model.pt --env dsprites --out scores.json
    darla metrics a.pt b.pt c.pt --env darla/Room-v1 --domain source --metrics mig,dci,udr \\
        --set num_train=2000 --set dci.importance=forest --out scores.json

Every metric runs with the settings of Locatello et al. (2019) unless ``--set`` overrides them
(``key=value`` for every metric that has the setting, ``metric.key=value`` for one). With several
checkpoints each is scored separately and UDR compares them.
"""

from __future__ import annotations

from pathlib import Path

from artifacts import write_json_atomic
from darla.cli import add_import_option


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
    add_import_option(p)
    p.set_defaults(func=run)


def parse_settings(items: list[str]) -> dict:
    """``["num_train=100", "dci.importance=forest"]`` -> ``{"num_train": 100, "dci": {"importance": "forest"}}``."""
    from darla.overrides import parse_loose, split

    out: dict = {}
    for key, raw in split(items).items():
        metric, dot, name = key.rpartition(".")
        if dot:
            out.setdefault(metric, {})[name] = parse_loose(raw)
        else:
            out[key] = parse_loose(raw)
    return out


def run(args) -> None:
    import envs
    import vision
    from eval import metrics

    out = Path(args.out)
    names = [n.strip() for n in args.metrics.split(",") if n.strip()] if args.metrics else None
    settings = parse_settings(args.settings)
    from darla.cli import resolve_env

    space = envs.make_factor_space(resolve_env(args.env))
    if args.domain:
        space.domain(args.domain)  # unknown domain: fail before loading anything
    encoders = {}
    for path in args.checkpoints:
        if not Path(path).exists():
            raise FileNotFoundError(f"checkpoint {path} does not exist; train one with `darla see` first")
        encoders[path] = vision.load_encoder(path, device=args.device)
    doc = metrics.score_models(space, encoders, names, args.seed, args.domain, settings, log=print)
    doc["meta"].update({"env": args.env, "checkpoints": list(args.checkpoints)})
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, doc)
    print(f"wrote {out}")
