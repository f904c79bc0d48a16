"""fanlib: a reproducible research kit for brand fan-community analytics.

Import submodules directly (``from fanlib.data import connect``); this package
module stays import-light so that notebooks and the CLI start fast.
"""

__version__ = "0.1.0"
