"""``darla study``: rank correlations of disentanglement and label-free scores with transfer, over a sweep."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "study", help="does disentanglement predict transfer? correlations over a sweep's finished points",
        description="For every finished point of a sweep: its backbone's ground-truth metrics, its label-free "
                    "scores (UDR, reconstruction) and its darla agents' returns; Spearman and Kendall "
                    "correlations with bootstrap 95%% CIs, written to SWEEP_DIR/study/ (Markdown, CSV, PNG).")
    p.add_argument("sweep_dir", help="a directory written by `darla sweep`")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and of the frames scored")
    p.set_defaults(func=run)


def run(args) -> None:
    from darla import study

    study.study(args.sweep_dir, n_boot=args.boot, seed=args.seed)
