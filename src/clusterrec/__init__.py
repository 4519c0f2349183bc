"""clusterrec: cluster-based collaborative filtering with neural networks."""

from clusterrec.data import Ratings, RatingScale
from clusterrec.errors import ClusterrecError, ConfigError, DataError, DataWarning

__version__ = "0.1.0"

__all__ = [
    "ClusterrecError",
    "ConfigError",
    "DataError",
    "DataWarning",
    "Ratings",
    "RatingScale",
    "__version__",
]
