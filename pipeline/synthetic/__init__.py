"""The seeded sample generator: a CRM export whose true conversion probabilities are known.

Owns: the synthetic leads, activities and oracle file behind `leadscore generate`, `make data`, the
notebooks and the tests; the oracle is what `oracle_roc_auc` is measured against. May import:
pipeline.config and pipeline.errors only; it writes plain files and never reads a user's export.
"""
