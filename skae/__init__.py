"""skae: PyTorch autoencoders as scikit-learn estimators."""

from skae import inspection, metrics
from skae._imputer import AutoencoderImputer
from skae._outlier import AutoencoderOutlierDetector
from skae._transformer import AutoencoderTransformer

__version__ = "0.1.0"

__all__ = [
    "AutoencoderImputer",
    "AutoencoderOutlierDetector",
    "AutoencoderTransformer",
    "__version__",
    "inspection",
    "metrics",
]
