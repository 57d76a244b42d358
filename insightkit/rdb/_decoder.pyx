# cython: language_level=3
"""Placeholder: the streaming RDB decoder's hot loop lands here."""
from insightkit.memory._model cimport KeyFacts, MemoryModel
