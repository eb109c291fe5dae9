"""What `validate` and `train` say about an export before a model is fitted: data checks and leakage.

Owns: the training and scoring data checks (sizes, balance, time coverage, duplicate ids), the
leakage suspects (by name, by timing, by single-column and drop-column lift of a small model) and
the one vocabulary of column-name words that `init` shares. May import: pipeline.io and the
foundation (config, errors). The quick model it fits is a probe, not the pipeline's recipe, so it
needs no pipeline.modeling.
"""
