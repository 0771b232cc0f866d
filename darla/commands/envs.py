"""``darla envs``: every registered environment and dataset with its factors and domains."""

from darla.cli import add_import_option


def register(subparsers) -> None:
    p = subparsers.add_parser("envs", help="list environments and datasets with their factors and domains")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    import json

    import envs

    catalogue: dict[str, dict] = {name: {"description": desc, **(envs.make_factor_space(name).describe()
                                                 if envs.registry.has_ground_truth(name) else
                                                 {"domains": envs.registry.level1_domains(name)})}
                 for name, desc in envs.available().items()}
    if args.json:
        print(json.dumps(catalogue, indent=2))
        return
    for name, entry in catalogue.items():
        if "factors" not in entry:  # level 1: domains are kwargs and wrappers, there are no factors
            print(f"{name}: {entry['description']}")
            for domain, spec in entry["domains"].items():
                print(f"  domain   {domain:8s} kwargs {spec['kwargs']}, wrappers {spec['wrappers']}")
            continue
        factors = ", ".join(f"{k}({v})" for k, v in entry["factors"].items())
        print(f"{name}: {entry['description']}")
        print(f"  frames   {'x'.join(map(str, entry['observation_shape']))} uint8, "
              f"{entry['combinations']:,} factor combinations")
        print(f"  factors  {factors}")
        for domain, desc in entry["domains"].items():
            print(f"  domain   {domain:8s} {desc}")
