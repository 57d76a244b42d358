"""Memory model: what each key costs in RAM on the server that wrote the snapshot."""

from insightkit.memory._model import ENCODING_NAMES, KIND_NAMES, MemoryModel, model_for

__all__ = ["ENCODING_NAMES", "KIND_NAMES", "MemoryModel", "model_for"]
