"""Who the sample's leads are: the population tables (industries, sizes, countries, roles,
channels, activity types and their effects), each lead's firmographics and contact details, and
the fit that follows from them alone.

`pipeline.synthetic.sample` draws these with its one random generator, in its fixed order, then
adds behaviour, true probabilities and outcomes (the seed's meaning depends on that order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INDUSTRIES = {  # name: (share, fit effect)
    "Software": (0.20, 0.45),
    "Financial Services": (0.12, 0.25),
    "Healthcare": (0.10, 0.0),
    "Manufacturing": (0.11, -0.05),
    "Retail": (0.10, -0.15),
    "Professional Services": (0.10, 0.15),
    "Education": (0.08, -0.45),
    "Media": (0.07, 0.05),
    "Telecommunications": (0.06, 0.1),
    "Government": (0.06, -0.4),
}
SIZES = {  # bucket: (share, fit effect, employees low, high)
    "1-10": (0.22, -0.6, 1, 10),
    "11-50": (0.24, -0.1, 11, 50),
    "51-200": (0.21, 0.2, 51, 200),
    "201-1000": (0.16, 0.35, 201, 1000),
    "1001-5000": (0.11, 0.3, 1001, 5000),
    "5000+": (0.06, 0.1, 5001, 100000),
}
COUNTRIES = {
    "United States": (0.38, 0.15),
    "United Kingdom": (0.11, 0.1),
    "Germany": (0.09, 0.05),
    "Canada": (0.06, 0.1),
    "France": (0.06, -0.05),
    "India": (0.09, -0.35),
    "Australia": (0.05, 0.05),
    "Netherlands": (0.04, 0.05),
    "Brazil": (0.05, -0.25),
    "Spain": (0.04, -0.1),
    "Singapore": (0.03, 0.0),
}
SENIORITY = {  # level: (share, fit effect, is decision maker)
    "Student": (0.06, -1.2, 0),
    "Individual Contributor": (0.34, -0.35, 0),
    "Manager": (0.28, 0.05, 0),
    "Director": (0.16, 0.35, 1),
    "VP": (0.09, 0.5, 1),
    "C-level": (0.07, 0.45, 1),
}
FUNCTIONS = {  # job function: (share, fit effect)
    "Marketing": (0.42, 0.3),
    "Sales": (0.16, 0.1),
    "IT": (0.13, 0.0),
    "Operations": (0.11, -0.1),
    "Finance": (0.07, -0.15),
    "Other": (0.11, -0.4),
}
CHANNELS = {  # channel: (share at start, share at end, fit effect)
    "Organic Search": (0.26, 0.18, 0.1),
    "Paid Search": (0.18, 0.20, 0.0),
    "Paid Social": (0.08, 0.18, -0.45),
    "Referral": (0.08, 0.08, 0.6),
    "Webinar": (0.08, 0.07, 0.2),
    "Events": (0.07, 0.06, 0.3),
    "Partner": (0.06, 0.06, 0.45),
    "Direct": (0.09, 0.08, 0.2),
    "Content Syndication": (0.06, 0.05, -0.35),
    "Outbound": (0.04, 0.04, -0.2),
}
# activity type: (base count in the window, sensitivity to intent, effect per log1p(count),
#                 extra effect per log1p(count in the last 7 days))
ACTIVITIES = {
    "email_open": (4.0, 0.1, 0.0, 0.05),
    "email_click": (1.2, 0.45, 0.12, 0.12),
    "web_visit": (2.5, 0.3, 0.05, 0.20),
    "pricing_page_visit": (0.35, 1.0, 0.10, 0.30),
    "whitepaper_download": (0.5, 0.35, 0.08, 0.05),
    "webinar_attended": (0.25, 0.7, 0.40, 0.15),
    "newsletter_signup": (0.15, 0.1, 0.0, 0.0),
    "free_trial": (0.08, 1.2, 0.20, 0.20),
    "contact_form": (0.10, 1.0, 0.55, 0.35),
    "demo_request": (0.08, 1.4, 0.20, 0.30),
    "social_engagement": (0.6, 0.2, 0.0, 0.0),
    "unsubscribe": (0.06, -1.0, -1.1, 0.0),
}
PERSONAL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com"]
FIRST = "Ava Ben Chloe Daniel Emma Felix Grace Hugo Isla Jack Kira Liam Maya Noah Olivia Pablo "
FIRST += "Quinn Ravi Sofia Tom Uma Victor Wei Xenia Yusuf Zoe Amir Bea Carlos Dana Elif Farah"
LAST = "Smith Jones Garcia Muller Rossi Dubois Patel Kim Nguyen Silva Cohen Novak Berg Okafor "
LAST += "Tanaka Larsen Moreau Costa Singh Walsh Fischer Ali Brown Wilson Lopez Clark Hughes Rey"


def pick(rng: np.random.Generator, table: dict, n: int, col: int = 0) -> np.ndarray:
    names = np.array(list(table))
    p = np.array([v[col] if isinstance(v, tuple) else v for v in table.values()], dtype=float)
    return rng.choice(len(names), size=n, p=p / p.sum())


def effects(table: dict, col: int) -> np.ndarray:
    return np.array([v[col] for v in table.values()], dtype=float)


@dataclass(frozen=True)
class Firmographics:
    """Who each lead is: indices into the tables above, plus the numbers drawn with them."""

    industry: np.ndarray
    size: np.ndarray
    country: np.ndarray
    seniority: np.ndarray
    function: np.ndarray
    channel: np.ndarray
    employees: np.ndarray  # NaN where the form left it empty
    budget: np.ndarray
    budget_missing: np.ndarray
    decision_maker: np.ndarray
    personal: np.ndarray  # a free-mail address rather than a company domain


def draw_firmographics(rng: np.random.Generator, frac: np.ndarray) -> Firmographics:
    """Company and person; the channel mix drifts from the start shares to the end shares."""
    n = len(frac)
    ind = pick(rng, INDUSTRIES, n)
    size = pick(rng, SIZES, n)
    ctry = pick(rng, COUNTRIES, n)
    sen = pick(rng, SENIORITY, n)
    fun = pick(rng, FUNCTIONS, n)
    ch_start, ch_end = effects(CHANNELS, 0), effects(CHANNELS, 1)
    p_ch = np.outer(1 - frac, ch_start) + np.outer(frac, ch_end)
    p_ch /= p_ch.sum(1, keepdims=True)
    chan = (p_ch.cumsum(1) > rng.random(n)[:, None]).argmax(1)

    lo, hi = effects(SIZES, 2)[size], effects(SIZES, 3)[size]
    employees = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))).astype(float)
    budget = np.round(np.exp(rng.normal(np.log(2000 * employees**0.8 + 5000), 0.7)), -2)
    employees[rng.random(n) < 0.05] = np.nan
    budget_missing = rng.random(n) < 0.15
    personal = rng.random(n) < np.where(size <= 1, 0.45, 0.15) + np.where(sen == 0, 0.4, 0)
    return Firmographics(
        industry=ind,
        size=size,
        country=ctry,
        seniority=sen,
        function=fun,
        channel=chan,
        employees=employees,
        budget=budget,
        budget_missing=budget_missing,
        decision_maker=effects(SENIORITY, 2)[sen],
        personal=personal,
    )


def fit_from_firmographics(f: Firmographics) -> np.ndarray:
    """How well the lead fits, from who it is alone: it also sets how much intent it shows."""
    return (
        effects(INDUSTRIES, 1)[f.industry]
        + effects(SIZES, 1)[f.size]
        + effects(COUNTRIES, 1)[f.country]
        + effects(SENIORITY, 1)[f.seniority]
        + effects(FUNCTIONS, 1)[f.function]
        + effects(CHANNELS, 2)[f.channel]
        - 0.7 * f.personal
        + np.where(f.budget_missing, 0.0, 0.25 * (np.log10(f.budget) - 5))
    )


def draw_contacts(rng: np.random.Generator, personal: np.ndarray) -> dict[str, np.ndarray]:
    """Name, email and phone: PII a real export has, so the drafting and dropping of it is tested."""
    n = len(personal)
    first, last = np.array(FIRST.split()), np.array(LAST.split())
    fn, ln = first[rng.integers(0, len(first), n)], last[rng.integers(0, len(last), n)]
    company = np.char.add("co", rng.integers(10000, 99999, n).astype(str))
    dom = np.where(
        personal,
        np.array(PERSONAL_DOMAINS)[rng.integers(0, len(PERSONAL_DOMAINS), n)],
        np.char.add(company, ".com"),
    )
    local = np.char.add(np.char.add(np.char.lower(fn), "."), np.char.lower(ln))
    email = np.char.add(np.char.add(local, np.char.add("", "@")), dom)
    phone = np.char.add("+1-555-", np.char.zfill(rng.integers(0, 10_000_000, n).astype(str), 7))
    return {"full_name": np.char.add(np.char.add(fn, " "), ln), "email": email, "phone": phone}
