"""Leakage kept on purpose is loud: a model still using a leakage suspect is not promoted unless
the config accepts that suspect by name."""

from pipeline.evaluation.gate import GateResult, leakage_failure, with_leakage_rule

SUSPECTS = [{"column": "stage_reached", "evidence": "alone AUC 0.97"}, {"column": "Tags"}]
PASSED = GateResult(True, [], {"gate_new_roc_auc": 0.9}, None)


def test_a_suspect_in_the_features_stops_promotion():
    out = with_leakage_rule(PASSED, SUSPECTS, ())
    assert not out.passed and out.checks == PASSED.checks
    assert "stage_reached, Tags" in out.reason and "leakage.accept" in out.reason


def test_each_suspect_must_be_accepted_by_name():
    assert "Tags" in leakage_failure(SUSPECTS, ["stage_reached"])
    assert "stage_reached" not in leakage_failure(SUSPECTS, ["stage_reached"])
    assert with_leakage_rule(PASSED, SUSPECTS, ["stage_reached", "Tags"]).passed


def test_no_suspect_changes_nothing_and_other_failures_are_kept():
    assert with_leakage_rule(PASSED, [], ()) is PASSED
    failed = GateResult(False, ["test ECE 0.07 above gate.max_ece 0.05"], {}, "2")
    out = with_leakage_rule(failed, SUSPECTS[:1], ())
    assert out.failures[0] == failed.failures[0] and len(out.failures) == 2
    assert out.champion_version == "2"
