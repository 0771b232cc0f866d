"""Disentanglement metrics: every standard score behind one registry, matching disentanglement_lib.

Python API::

    import eval.metrics as metrics
    metrics.names()                                   # registered metric names
    metrics.get("mig")(space, encoder, 0, num_train=10000)   # -> {"discrete_mig": ...}
    metrics.evaluate(space, encoder, ["mig", "dci"], seed=0, domain="source", num_train=5000)

``space`` is a FactorSpace (or a registered environment / dataset name), ``encoder`` anything with
``encode(frames) -> codes`` or a plain callable. Each metric also has an array-level core
(``metrics.get(name).core``) for precomputed codes and factors; see docs/metrics.md.
"""

from eval.metrics.registry import Metric, evaluate, get, names, register, score_models, settings_per_metric
from eval.metrics import beta_vae, factor_vae, mig, dci, sap, modularity, irs, unsupervised, probe, udr  # noqa: E402,F401  (register)
from eval.metrics.beta_vae import beta_vae_from_features
from eval.metrics.dci import dci_from_codes, dci_from_importance
from eval.metrics.factor_vae import factor_vae_from_votes
from eval.metrics.irs import irs_from_codes
from eval.metrics.mig import mig_from_codes
from eval.metrics.modularity import modularity_explicitness_from_codes
from eval.metrics.probe import probe_from_codes
from eval.metrics.sap import sap_from_codes
from eval.metrics.udr import udr_from_codes
from eval.metrics.unsupervised import unsupervised_from_codes


def versions() -> dict[str, str]:
    """Versions of the libraries whose numerics the scores depend on (record them next to results)."""
    import numpy
    import scipy
    import sklearn

    from artifacts import package_version

    return {"numpy": numpy.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
            "darla": package_version()}


__all__ = ["Metric", "evaluate", "get", "names", "register", "score_models", "settings_per_metric", "versions", "beta_vae_from_features",
           "dci_from_codes", "dci_from_importance", "factor_vae_from_votes", "irs_from_codes", "mig_from_codes",
           "modularity_explicitness_from_codes", "probe_from_codes", "sap_from_codes", "udr_from_codes", "unsupervised_from_codes"]
