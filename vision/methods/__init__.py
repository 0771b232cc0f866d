"""Vision methods behind one interface, by config name.

Adding a method (the vision zoo): write ``vision/methods/NAME.py`` with a ``@register``-decorated
subclass that overrides the hook that differs (see :mod:`vision.methods.base`), and import it below.
"""

from vision.methods.registry import get, names, register
from vision.methods.base import Method

# Built-in methods register themselves on import (one line per method).
from vision.methods import ae as _ae  # noqa: E402,F401  (ae, dae)
from vision.methods import vae as _vae  # noqa: E402,F401  (vae, beta_vae)
from vision.methods import beta_vae_dae as _beta_vae_dae  # noqa: E402,F401
from vision.methods import cci_vae as _cci_vae  # noqa: E402,F401
from vision.methods import beta_tcvae as _beta_tcvae  # noqa: E402,F401
from vision.methods import factor_vae as _factor_vae  # noqa: E402,F401
from vision.methods import dip_vae as _dip_vae  # noqa: E402,F401
from vision.methods import infogan as _infogan  # noqa: E402,F401
from vision.methods import dc_ign as _dc_ign  # noqa: E402,F401
from vision.methods import guided_vae as _guided_vae  # noqa: E402,F401
from vision.methods import disbm as _disbm  # noqa: E402,F401
from vision.methods import icf as _icf  # noqa: E402,F401

__all__ = ["Method", "get", "names", "register"]
