"""`leadscore init`: guessing a config from a user's whole export and writing it as commented YAML.

Owns: reading a sample of each file (`sample`), each column's kind (`columns`), the guesses (file
layout, id, dates, outcome, activity types, targets: `draft`) held as data (`guesses`), and their
rendering as YAML with a comment on every choice (`render`). May import: pipeline.io (the same
parsing rules training and scoring use), pipeline.validation (leakage suspects and the
column-name vocabulary) and the foundation. It writes nothing itself; the CLI writes the draft.
"""
