"""The package version, importable from anywhere below the facade without importing it."""

__version__ = "0.1.0"
