"""``darla transfer``: zero-shot evaluation of saved agents on each domain (stage 3)."""

from darla.cli import add_import_option


def register(subparsers) -> None:
    from darla.cli import add_threads_option

    p = subparsers.add_parser("transfer", help="evaluate saved agents, unchanged, on each domain")
    p.add_argument("agents", nargs="+", help="agent folders written by `darla act` or `darla run`")
    p.add_argument("--domains", default="", help="comma-separated (default: every domain the agent's env "
                   "declares, e.g. source,target,ood for the Room)")
    p.add_argument("--episodes", type=int, default=20, help="episodes per domain (default 20)")
    p.add_argument("--seed", type=int, default=10_000, help="evaluation seed (default 10000)")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the greedy ones")
    p.add_argument("--shifts", default="", metavar="JSON",
                   help='visual shifts of the training domain, evaluated like domains: a JSON object of name -> '
                        'list of wrappers, or a .json file holding one, e.g. \'{"hue90": [{"name": "hue_rotate", '
                        '"degrees": 90}]}\' (docs/wrappers.md)')
    p.add_argument("--out", required=True, help="folder for transfer.json / .csv / .md")
    p.set_defaults(out_kind="folder")  # checked by darla.cli before the command runs
    add_threads_option(p)
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    import agents
    import envs
    from eval import transfer

    from darla.config import MAX_EPISODES, check_shifts

    domains = [d for d in args.domains.split(",") if d]
    if args.domains and not domains:
        raise ValueError(f"--domains {args.domains!r} names no domain; e.g. --domains source,target")
    if not 1 <= args.episodes <= MAX_EPISODES:
        raise ValueError(f"--episodes {args.episodes:,} is out of range: give 1 to {MAX_EPISODES:,} episodes per domain")
    shifts = read_shifts(args.shifts)
    loaded, plan = [agents.load(path) for path in args.agents], []
    for path, agent in zip(args.agents, loaded):  # every domain and shift checked before any episode runs
        declared = envs.registry.declared_domains(agent.spec["env_id"], **agent.spec.get("env_kwargs", {}))
        unknown = [d for d in domains if d not in declared + ["all"]]
        if unknown:
            raise ValueError(f"--domains {','.join(unknown)}: {agent.spec['env_id']} (the env of {path}) has no "
                             f"such domain; its domains: {','.join(declared)}")
        check_shifts(shifts, declared, agent.spec["env_id"], agent.spec.get("env_kwargs") or {}, agent.training_domain)
        plan.append((agent, domains or declared))
    rows = []
    for agent, agent_domains in plan:
        successes: dict[str, list[bool]] = {}
        returns = transfer.evaluate(agent, agent_domains, args.episodes, args.seed, deterministic=not args.stochastic,
                                    successes=successes, shifts=shifts)
        rows += transfer.records(agent.spec["variant"], agent.spec["seed"], returns, successes)
    from pathlib import Path

    from darla.stages import locked

    Path(args.out).mkdir(parents=True, exist_ok=True)
    with locked(args.out):  # one writer per output folder
        files = transfer.write_results(rows, args.out)
    print(files["md"].read_text())
    print(f"wrote {', '.join(str(p) for p in files.values())}")


def read_shifts(text: str) -> dict:
    """``--shifts``: a JSON object, or the path of a .json file holding one (empty: no shifts)."""
    import json
    from pathlib import Path

    if not text:
        return {}
    source = Path(text).read_text() if text.endswith(".json") and Path(text).is_file() else text
    try:
        shifts = json.loads(source)
    except json.JSONDecodeError as err:
        raise ValueError(f"--shifts {text!r} is neither JSON nor a .json file ({err}); e.g. "
                         '\'{"hue90": [{"name": "hue_rotate", "degrees": 90}]}\'') from None
    return shifts
