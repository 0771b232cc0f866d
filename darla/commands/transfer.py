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
    p.add_argument("--out", required=True, help="folder for transfer.json / .csv / .md")
    p.set_defaults(out_kind="folder")  # checked by darla.cli before the command runs
    add_threads_option(p)
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    import agents
    import envs
    from eval import transfer

    from darla.config import MAX_EPISODES

    domains = [d for d in args.domains.split(",") if d]
    if args.domains and not domains:
        raise ValueError(f"--domains {args.domains!r} names no domain; e.g. --domains source,target")
    if not 1 <= args.episodes <= MAX_EPISODES:
        raise ValueError(f"--episodes {args.episodes:,} is out of range: give 1 to {MAX_EPISODES:,} episodes per domain")
    loaded, plan = [agents.load(path) for path in args.agents], []
    for path, agent in zip(args.agents, loaded):  # every domain checked before any episode runs
        declared = envs.registry.declared_domains(agent.spec["env_id"], **agent.spec.get("env_kwargs", {}))
        unknown = [d for d in domains if d not in declared + ["all"]]
        if unknown:
            raise ValueError(f"--domains {','.join(unknown)}: {agent.spec['env_id']} (the env of {path}) has no "
                             f"such domain; its domains: {','.join(declared)}")
        plan.append((agent, domains or declared))
    rows = []
    for agent, agent_domains in plan:
        successes: dict[str, list[bool]] = {}
        returns = transfer.evaluate(agent, agent_domains, args.episodes, args.seed, deterministic=not args.stochastic,
                                    successes=successes)
        rows += transfer.records(agent.spec["variant"], agent.spec["seed"], returns, successes)
    from pathlib import Path

    from darla.stages import locked

    Path(args.out).mkdir(parents=True, exist_ok=True)
    with locked(args.out):  # one writer per output folder
        files = transfer.write_results(rows, args.out)
    print(files["md"].read_text())
    print(f"wrote {', '.join(str(p) for p in files.values())}")
