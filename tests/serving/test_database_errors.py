"""Every database error of a scores output is one line naming the table or column and the fix:
never a traceback, never a row value, never the password. Against a real PostgreSQL 15 (the
`postgres_url` fixture) for what only a server does: schema privileges (PostgreSQL 15 revokes
CREATE on `public` from other users), a table of another shape, a value too long for its column.
No model is needed: the writer takes a staged scores file."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.errors import ExpectedError
from pipeline.serving import database
from tests.serving.test_database import fresh_database, staged_file

SECRET = "s3cr3t-pw"


def _admin(url: str, *sql: str) -> None:
    eng = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        for q in sql:
            c.execute(sa.text(q))
    eng.dispose()


def _one_line(url: str, staged: Path, run_id: str = "run-1") -> str:
    with pytest.raises(ExpectedError) as e:
        database.write_scores(url, staged, run_id)
    message = str(e.value)
    assert "\n" not in message and SECRET not in message
    assert "L0" not in message and "[+] reason" not in message  # no row values
    return message


def _as_user(admin_url: str, db: str) -> str:
    """A login role that owns nothing: what a CRM sync's account usually is."""
    _admin(admin_url, "DROP ROLE IF EXISTS scorer", f"CREATE ROLE scorer LOGIN PASSWORD '{SECRET}'")
    base = fresh_database(admin_url, db)
    return base.replace("postgres@", f"scorer:{SECRET}@")


def test_no_create_privilege_on_public_names_the_grant(postgres_url, tmp_path):
    url = _as_user(postgres_url, "noprivs")
    message = _one_line(url, staged_file(tmp_path / "s.csv", [10, 20]))
    assert "no permission to create or write table lead_scores" in message
    assert "GRANT CREATE ON SCHEMA public" in message


def test_a_lead_scores_table_of_another_shape_is_named_not_altered(postgres_url, tmp_path):
    url = fresh_database(postgres_url, "othershape")
    _admin(url, "CREATE TABLE lead_scores (lead_id text, probability real, score int, stage text)")
    message = _one_line(url, staged_file(tmp_path / "s.csv", [10, 20]))
    assert "table lead_scores exists with another shape (no column run_id)" in message
    cols = database.connect(url).connect().execute(sa.text("SELECT * FROM lead_scores")).keys()
    assert list(cols) == ["lead_id", "probability", "score", "stage"]


def test_a_run_id_longer_than_its_column_is_refused_without_row_values(postgres_url, tmp_path):
    url = fresh_database(postgres_url, "longrun")
    message = _one_line(url, staged_file(tmp_path / "s.csv", [10, 20]), "r" * 300)
    assert "too long for its column (run_id holds at most 64 characters)" in message
    with pytest.raises(ExpectedError, match="--run-id: 300 characters"):
        database.check_run_id("r" * 300)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"postgresql://bob:p@{SECRET}@127.0.0.1:5432/db", "more than one '@' before the host"),
        (f"postgresql://bob:{SECRET}@127.0.0.1:5543x/db", "port '5543x' is not a number"),
    ],
)
def test_a_url_that_would_be_misread_is_refused_without_echoing_it(url, words):
    with pytest.raises(ExpectedError) as e:
        database.check_url(url)
    assert words in str(e.value) and SECRET not in str(e.value) and "bob" not in str(e.value)
