"""What `validate` and `train` say about an export before a model is fitted: data checks and leakage.

Owns: the training and scoring data checks (`checks`: sizes, balance, dates, empty, constant and
id-like columns) and their report (`findings`), the leakage suspects (`leakage`: by name, by fill
pattern, by single-column and drop-column lift), the quick-model AUCs they judge by (`probe`) and
the one vocabulary of column-name words that `init` shares (`vocabulary`). May import:
pipeline.io and the foundation (config, errors). The quick model it fits is a probe, not the
pipeline's recipe, so it needs no pipeline.modeling.
"""
