"""`leadscore init`: guessing a config from a user's whole export and writing it as commented YAML.

Owns: the guesses (file layout, id, dates, outcome, column kinds, activity types, targets) and the
rendering of those guesses as YAML with a comment on every choice. May import: pipeline.io (the
same parsing rules training and scoring use), pipeline.validation (leakage suspects and the
column-name vocabulary) and the foundation. It writes nothing itself; the CLI writes the draft.
"""
