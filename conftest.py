"""Collection settings for the doctests of the package (``skae/``)."""

import importlib.util

# skae.dask needs the optional dask; without it, there is nothing to test.
collect_ignore = [] if importlib.util.find_spec("dask") else ["skae/dask.py"]
