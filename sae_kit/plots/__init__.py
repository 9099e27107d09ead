"""Plot builders: each takes results and returns a plotly Figure. They never compute, train or show.

Grouped by subject: `tms` (toy models and the ratio of features to dimensions, notebooks 01–02), `sae` (SAE training
and its grids on toy data, 03–04), `lm` (the tiny LM and its SAEs, 05), `recipes` (comparing recipes, 06), `next_toys`
(computation in superposition, absorption, the α collapse law, 07), `evals` (what the field measures on LM SAEs, 08).
The explorers' figures are in `sae_kit.explorers.plots`. Every builder is also importable from `sae_kit.plots` itself.
"""

from sae_kit.plots import evals, lm, next_toys, recipes, sae, tms  # noqa: E402
from sae_kit.plots._common import alpha_label
from sae_kit.plots.evals import *  # noqa: F403
from sae_kit.plots.lm import *  # noqa: F403
from sae_kit.plots.next_toys import *  # noqa: F403
from sae_kit.plots.recipes import *  # noqa: F403
from sae_kit.plots.sae import *  # noqa: F403
from sae_kit.plots.tms import *  # noqa: F403

__all__ = ["alpha_label", *evals.__all__, *lm.__all__, *next_toys.__all__, *recipes.__all__, *sae.__all__, *tms.__all__]
