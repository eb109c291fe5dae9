"""`leadscore init` drafts `schema.labels`: readable names, values, ids ranked by frequency, and
contact-history columns guessed as engagement; "unknown" drafted as a missing value."""

import numpy as np
import pandas as pd
import yaml

from pipeline.config import load_config
from pipeline.onboarding.draft import draft_config
from pipeline.onboarding.labels import draft_labels, value_words
from pipeline.validation.vocabulary import is_contact_history
from pipeline.words import readable_name, readable_value

HASHES = ["58326e62183c14b0c03085c33b9fdc44", "0a30febcfd9c282504510bdf882d9d72", "e4b1c2d3a5f6"]


def test_names_and_values_read_as_words():
    assert readable_name("nr.employed") == "number employed"
    assert readable_name("TotalVisits") == "total visits"
    assert readable_name("emp.var.rate") == "employment variation rate"
    assert readable_name("Lead Source") == "Lead Source"  # already words: kept
    assert readable_value("basic.6y") == "basic 6 years"
    assert readable_value("paid_search") == "paid search"
    assert readable_value("Olark Chat") == "Olark Chat"


def test_hash_ids_become_numbered_by_frequency():
    s = pd.Series([HASHES[1]] * 5 + [HASHES[0]] * 9 + [HASHES[2]] * 2 + ["organic"])
    words = value_words("landing_page_id", s)
    assert words == {
        HASHES[0]: "landing page #1 (of 2, by frequency)",
        HASHES[1]: "landing page #2 (of 2, by frequency)",
    }
    # 'e4b1c2d3a5f6' is only 12 characters: not taken for a machine id, and already one word
    labels = draft_labels(
        pd.DataFrame({"landing_page_id": s}), ["landing_page_id"], ["landing_page_id"]
    )
    assert labels["landing_page_id"]["name"] == "landing page id"


def test_every_hash_id_gets_a_label_however_rare():
    """495 page ids, most seen once: each gets its rank, none is left to read as hex."""
    rng = np.random.default_rng(3)
    ids = [f"{rng.integers(0, 2**63):016x}{i:016x}" for i in range(495)]
    s = pd.Series(ids[:5] * 40 + ids)
    words = value_words("landing_page_id", s)
    assert set(words) == set(ids)
    assert len(set(words.values())) == 495
    assert words[ids[0]] == "landing page #1 (of 495, by frequency)"
    assert all(w.startswith("landing page #") for w in words.values())


def test_contact_history_is_engagement_but_call_duration_is_not():
    for name in ("campaign", "previous", "pdays", "Number of Calls", "contacts_last_30d"):
        assert is_contact_history(name), name
    for name in ("duration", "call_duration", "industry", "age"):
        assert not is_contact_history(name), name


def test_init_drafts_labels_unknown_as_missing_and_contact_engagement(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "nr.employed": rng.choice([5099.1, 5191.0, 5228.1], n),
            "education": rng.choice(["basic.6y", "high.school", "unknown"], n),
            "campaign": rng.integers(1, 8, n),
            "pdays": rng.choice([3, 6, 999], n),
            "y": rng.choice(["yes", "no"], n, p=[0.2, 0.8]),
        }
    ).to_csv(tmp_path / "bank.csv", sep=";", index=False)
    text, _ = draft_config(tmp_path / "bank.csv")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "c.yaml")
    assert "unknown" in cfg.data.missing_values
    labels = yaml.safe_load(text)["schema"]["labels"]
    assert labels["nr.employed"] == "number employed"
    assert labels["education"]["values"] == {
        "basic.6y": "basic 6 years",
        "high.school": "high school",
    }
    assert {"campaign", "pdays"} <= set(cfg.schema.engagement)
