"""Key patterns: ``user:*:session`` families discovered from the keys, and memory aggregated by them.

``assign_patterns`` gives every key a pattern (shape rules for ids, then per-position cardinality over
distinct templates, user rules first); ``aggregate_patterns`` summarises memory, types and TTLs per
pattern; ``pattern_hierarchy`` gives the prefix levels for drill-down, treemaps and flame charts;
``keyspace_separators`` tells which separators structure the keyspace.
"""

from insightkit.patterns.aggregate import aggregate_patterns
from insightkit.patterns.assign import assign_patterns, pattern_arrow
from insightkit.patterns.cardinality import Thresholds
from insightkit.patterns.custom import CustomPatterns, glob_to_regex
from insightkit.patterns.hierarchy import pattern_hierarchy
from insightkit.patterns.separators import keyspace_separators
from insightkit.patterns.shapes import template_of

__all__ = [
    "CustomPatterns",
    "Thresholds",
    "aggregate_patterns",
    "assign_patterns",
    "glob_to_regex",
    "keyspace_separators",
    "pattern_arrow",
    "pattern_hierarchy",
    "template_of",
]
