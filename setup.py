"""Build the Cython extensions; everything else is declared in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

# Bounds checks stay on: malformed input must raise, never crash.
DIRECTIVES = {
    "language_level": "3",
    "boundscheck": True,
    "wraparound": False,
    "initializedcheck": True,
    "cdivision": True,
    "embedsignature": True,
}

extensions = [
    Extension("insightkit.memory.layout", ["insightkit/memory/layout.pyx"]),
    Extension("insightkit.memory._model", ["insightkit/memory/_model.pyx"]),
    Extension("insightkit.rdb._crc64", ["insightkit/rdb/_crc64.pyx"]),
    Extension("insightkit.rdb._columns", ["insightkit/rdb/_columns.pyx"]),
    Extension("insightkit.rdb._blobs", ["insightkit/rdb/_blobs.pyx"]),
    Extension("insightkit.rdb._lzf", ["insightkit/rdb/_lzf.pyx"]),
    Extension("insightkit.rdb._tmpl", ["insightkit/rdb/_tmpl.pyx"]),
    Extension("insightkit.rdb._scan", ["insightkit/rdb/_scan.pyx"]),
    Extension("insightkit.rdb._state", ["insightkit/rdb/_state.pyx"]),
    Extension("insightkit.rdb._rows", ["insightkit/rdb/_rows.pyx"]),
    Extension("insightkit.rdb._values_flat", ["insightkit/rdb/_values_flat.pyx"]),
    Extension("insightkit.rdb._values_blobs", ["insightkit/rdb/_values_blobs.pyx"]),
    Extension("insightkit.rdb._values_stream", ["insightkit/rdb/_values_stream.pyx"]),
    Extension("insightkit.rdb._values_rdb15", ["insightkit/rdb/_values_rdb15.pyx"]),
    Extension("insightkit.rdb._values_module", ["insightkit/rdb/_values_module.pyx"]),
    Extension("insightkit.rdb._decoder", ["insightkit/rdb/_decoder.pyx"]),
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES))
