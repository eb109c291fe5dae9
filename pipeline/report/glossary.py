"""The words of the reports, defined once for people who do not build models."""

GLOSSARY = [
    ("Lead", "A person or company that came in through a channel and has not bought yet."),
    (
        "Probability",
        "The model's estimate, between 0% and 100%, that the lead becomes a customer. "
        "Calibrated: of 100 leads at 20%, about 20 convert.",
    ),
    (
        "Score",
        "0 to 100: the share of reference leads (held back from training; the most recent ones "
        "when the export has creation dates) with a lower or equal probability.",
    ),
    (
        "SQL (sales-qualified lead)",
        "A lead whose probability is at or above the SQL cutoff: worth a salesperson's call now.",
    ),
    (
        "MQL (marketing-qualified lead)",
        "A lead at or above the MQL cutoff but below the SQL one: worth nurturing.",
    ),
    ("Cutoff", "The probability at which a lead moves up a stage, chosen from business targets."),
    ("Win", "A lead that became a customer (closed won)."),
    ("Share of wins caught", "Of all leads that became customers, the share in a given stage."),
    (
        "Out-of-time test",
        "The most recent leads, held back from training, so the numbers show how the model does "
        "on leads it never saw.",
    ),
    (
        "Ranking quality (ROC AUC)",
        "How often the model puts a lead that converted above one that did not: 50% is a coin "
        "toss, 100% is perfect.",
    ),
    ("Lift", "How many times more customers a group holds than the same number picked at random."),
    (
        "Calibration",
        "Whether promised conversion matches what happened. The gap is in percentage points.",
    ),
    (
        "Backtest",
        "Re-running the recipe as if it were an earlier month: train on what was known then, "
        "check on that month's leads.",
    ),
    ("Slice", "The test leads of one channel, country or company size, measured on their own."),
    (
        "Percentage point (pts)",
        "The difference between two percentages: from 10% to 13% is +3 pts.",
    ),
    (
        "Drift",
        "How different today's leads look from the training leads, field by field (PSI: under "
        "0.1 small, above 0.2 worth a look).",
    ),
    (
        "Promotion gate",
        "The checks a new version must pass before it serves scores: as good as the current one "
        "on the same leads, calibrated, and enough wins to judge.",
    ),
    (
        "Leakage suspect",
        "A field that looks like it is filled in after the outcome is known; it would make the "
        "model look better than it is.",
    ),
]

# what replaces an entry when the run did something else (pipeline.report.truth.glossary_for)
RANDOM_TEST = (
    "Held-out test",
    "Leads picked at random and held back from training (the export has no creation dates, so "
    "there are no later leads to test on); the numbers may be optimistic for future leads.",
)
FOLD_BACKTEST = (
    "Backtest",
    "Without creation dates: the leads are split at random into folds; the recipe is trained on "
    "all folds but one and checked on that one, for each fold.",
)
POSITION_TEST = (
    "Out-of-time test (by position)",
    "The newest rows of the file, held back from training: the export has no creation dates, "
    "but its rows run oldest to newest (data.rows_in_time_order), so the test leads come after "
    "the leads the model learned from.",
)
POSITION_BACKTEST = (
    "Backtest",
    "By position: the recipe is trained on every row before a block of newer rows and checked "
    "on that block, for each block of the newest half of the file.",
)
EXPORT_BACKTEST = (
    "Backtest",
    "Re-running the recipe as if it were an earlier month: train on the leads created before it, "
    "with their outcomes as known at the export (as the test split: a team would have learnt "
    "some of them later), check on that month's leads.",
)
