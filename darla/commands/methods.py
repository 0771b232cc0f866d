"""``darla methods``: the vision methods, their papers and hyperparameters with defaults."""


def register(subparsers) -> None:
    p = subparsers.add_parser("methods", help="list vision methods with papers and hyperparameters")
    p.add_argument("name", nargs="?", help="show one method only")
    p.set_defaults(func=run)


def run(args) -> None:
    import vision
    from vision.config import describe

    for name in [args.name] if args.name else vision.methods.names():
        cls = vision.methods.get(name)
        print(f"{name}: {cls.summary}\n  paper: {cls.paper}")
        for key, kind, value in describe(cls.Config()):
            print(f"  {key:<24} {value!r:<14} {kind}")
        print()
