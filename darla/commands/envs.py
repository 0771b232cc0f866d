"""``darla envs``: every registered environment and dataset with its factors and domains."""


def register(subparsers) -> None:
    p = subparsers.add_parser("envs", help="list environments and datasets with their factors and domains")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def run(args) -> None:
    import json

    import envs

    catalogue = {name: {"description": desc, **envs.make_factor_space(name).describe()}
                 for name, desc in envs.available().items()}
    if args.json:
        print(json.dumps(catalogue, indent=2))
        return
    for name, entry in catalogue.items():
        factors = ", ".join(f"{k}({v})" for k, v in entry["factors"].items())
        print(f"{name}: {entry['description']}")
        print(f"  frames   {'x'.join(map(str, entry['observation_shape']))} uint8, "
              f"{entry['combinations']:,} factor combinations")
        print(f"  factors  {factors}")
        for domain, desc in entry["domains"].items():
            print(f"  domain   {domain:8s} {desc}")
