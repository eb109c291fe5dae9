"""The one vocabulary of column-name words: what a column's name says the column is.

`leadscore validate` names leakage suspects by these words and `leadscore init` uses the same ones
to guess ids, outcomes, dates, PII and behaviour, so a name means one thing to both. Two kinds of
match: words (`name_words` splits camelCase, snake_case, dots and spaces, so "Lead Source" never
matches "source" inside another word) and stems (regexes, for exports that glue words together,
such as HubSpot's `closedate`). Each list is written once; a stem regex is built from its list.
"""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def name_words(name: str) -> list[str]:
    """Lower-case words of a column name: camelCase, snake_case, dots and spaces all split."""
    return re.findall(r"[a-z0-9]+", _CAMEL.sub(" ", str(name)).lower())


def _stems(words: frozenset[str] | set[str], *more: str) -> re.Pattern[str]:
    """A case-blind regex matching any of the words (or extra patterns) anywhere in a name."""
    return re.compile("|".join([*sorted(words), *more]), re.I)


# ---- Words of the sales process: filled during or after the sale (leakage by role). ----
OWNER_WORDS = frozenset({"owner", "assigned", "assignee"})
STAGE_WORDS = frozenset({"status", "stage", "disposition"})
CLOSE_WORDS = frozenset({"close", "closed", "closing", "won", "lost"})
ROLE_WORDS = {
    "a rating set by sales after talking to the lead": {"quality", "rating", "rated", "grade"},
    "tags set by sales during follow-up": {"tag", "tags"},
    "a profile filled in by sales during qualification": {"profile"},
    "the lead's status or stage in the sales process": STAGE_WORDS,
    "a won/lost reason": {"reason", "reasons"},
    "who works the lead, assigned during the sales process": OWNER_WORDS,
    "notes written during the sales process": {"note", "notes", "comment", "comments", "remarks"},
    "a score or index computed by the company, often from sales activity": {
        "score",
        "scores",
        "scoring",
        "index",
    },
    "how the deal closed": CLOSE_WORDS,
}
CONTACT_WORDS = frozenset({"call", "contact", "meeting", "talk"})

# ---- Words of behaviour: what the lead did (engagement), and what a snapshot describes. ----
BEHAVIOUR_WORDS = frozenset({"activity", "visit", "engagement", "login"})
ENGAGEMENT_WORDS = BEHAVIOUR_WORDS | {
    "visits",
    "view",
    "views",
    "pageviews",
    "open",
    "opens",
    "opened",
    "click",
    "clicks",
    "clicked",
    "download",
    "downloads",
    "downloaded",
    "session",
    "sessions",
    "webinar",
    "webinars",
    "activities",
    "logins",
}
# a number counting contact history: contacts in this campaign, contacts before it, days since
# the last contact (bank-marketing `campaign`, `previous`, `pdays`): what sales did with the lead
CONTACT_HISTORY_WORDS = frozenset(
    {"contact", "contacts", "contacted", "call", "calls", "touch", "touches", "touchpoints"}
    | {"attempts", "pdays", "previous", "campaign"}
)
SNAPSHOT_FIRST = frozenset({"last", "latest", "current"})
SNAPSHOT_AFTER_LAST = BEHAVIOUR_WORDS | {
    "contact",
    "contacted",
    "touch",
    "action",
    "event",
    "interaction",
    "update",
    "updated",
    "modified",
    "notable",
    "seen",
}

# ---- Stems init guesses by: personal data, ids, the outcome, dates, activity columns. ----
PII_NAME_RE = re.compile(
    r"(first|last|full|middle|sur|given|contact|lead|person|user|customer)[\s_-]?name|^name$|"
    r"phone|mobile|e-?mail|address|street|postal|zip|\bip\b|birth|passport|ssn|linkedin",
    re.I,
)
PERSON_NAME_RE = re.compile(r"name", re.I)
OWNER_RE = _stems(OWNER_WORDS, r"sales ?rep", r"\bsdr\b", r"\bsr\b")
ID_NAME_RE = re.compile(r"(^|[\s_])id$|^id([\s_]|$)|_id$|\bid\b|number$|^key$", re.I)
# exact names that say "this is the outcome", ranked before a name that merely contains one
OUTCOME_NAMES = frozenset(
    {"y", "target", "label", "converted", "outcome", "status", "result", "won", "stage"}
)
OUTCOME_NAME_RE = re.compile(
    r"convert|outcome|status|stage|\bwon\b|result|is_?won|closed?|customer|target|label|^y$", re.I
)
CREATED_RE = re.compile(r"creat|first|added|signup|sign_up|registr|entered|date", re.I)
CLOSED_RE = _stems(CLOSE_WORDS, "convert", "conversion")
TIMESTAMP_NAME_RE = re.compile(r"time|date|occur|at$", re.I)
ACTIVITY_TYPE_NAME_RE = re.compile(r"type|activity|event|action", re.I)


def after_fact_role(name: str) -> str | None:
    """What the name says the column is, when that is filled during or after the sales process.

    One rule for `init` (which drops such columns) and `validate` (which names them).
    """
    words = name_words(name)
    for role, vocab in ROLE_WORDS.items():
        if vocab & set(words):
            return role
    if "duration" in words and (len(words) == 1 or CONTACT_WORDS & set(words)):
        return "the length of the sales contact itself, known only once it is over"
    return None


def is_snapshot(name: str) -> bool:
    """'Last Activity', 'latest_stage', 'Most Recent Visit': the lead as of the export."""
    w = name_words(name)
    if not w:
        return False
    after_last = any(
        a in {"last", "latest"} and b in SNAPSHOT_AFTER_LAST for a, b in zip(w, w[1:], strict=False)
    )
    return w[0] in SNAPSHOT_FIRST or w[:2] == ["most", "recent"] or after_last


def is_engagement(name: str) -> bool:
    """Visits, page views, opens, clicks, time spent: the name says what the lead did."""
    words = set(name_words(name))
    spent = "time" in words and bool({"spent", "on"} & words)
    return bool(ENGAGEMENT_WORDS & words) or spent


def is_contact_history(name: str) -> bool:
    """A numeric column counting contacts: 'campaign', 'previous', 'pdays', 'Number of Calls'.
    (Call duration is not history but the contact itself: `after_fact_role` names it.)"""
    words = set(name_words(name))
    return bool(CONTACT_HISTORY_WORDS & words) and "duration" not in words
