"""The coalition report's method: how each number is counted, as the report states it to its
readers (its `method` section, `{title, text}` items; {k} is the suppression threshold). The
same rules as docs/report.md's "How numbers are counted": change both together."""

from __future__ import annotations

from .disclosure import SUPPRESSION_METHOD
from .safety import SAFETY_METHOD

METHOD: tuple[tuple[str, str], ...] = (
    (
        "Source",
        "Every number comes from the hub's own records: its command log (every accepted "
        "submission, opinion, retraction and expiry, with the time the hub received it), replayed "
        "in memory, and its usage counts (matches, queries and feed-propagation times, kept per "
        "UTC day); the coalition safety counts also read the hub's feed events and its review "
        "notices. The period is whole UTC days, both ends included.",
    ),
    (
        "Signals contributed",
        "A submission is one member's submission of one signal in one batch (a value repeated "
        "inside a batch counts once). 'Signals' counts distinct signals with at least one "
        "submission in the period; 'new signals' those whose first submission ever falls in the "
        "period; 'contributing members' the number of distinct members that submitted (never "
        "who). By label, a signal counts under every label its submissions in the period carry, "
        "'(none)' when they carry none, so label rows add up to more than the total.",
    ),
    (
        "Corroboration",
        "A signal is corroborated at the moment a second distinct member submits it while the "
        "first member's submission is still in force (what the hub reports as corroboration). "
        "Counted are signals corroborated in the period; the median time runs from the signal's "
        "first submission ever to that moment.",
    ),
    (
        "Matches",
        "Each query of a match call that found a signal counts one match of that signal (a "
        "query matching three signals counts three). Matches are counted per signal, per querying "
        "member and per day; a match stays counted when its signal is later removed. A match "
        "counts under the labels the signal carried at the end of that day, or, if it had been "
        "removed by then, the labels it carried last. 'From other members' counts matches by a "
        "member that had not submitted the signal by the end of that day. Queries count every "
        "query of every match call, matched or not.",
    ),
    (
        "Opinions",
        "For each member and signal the latest opinion given in the period counts once (a "
        "member changing its mind counts its last opinion; a cleared one counts nothing). By "
        "label, under the labels the signal carried when the opinion was given. The "
        "false-positive share is false positives divided by true plus false positives; "
        "disputed opinions (disagreement with the labels) are counted apart. No total of all "
        "opinions is given: with it, a rare kind of opinion would follow from the other two.",
    ),
    (
        "Retractions and expiries",
        "A retraction is one member withdrawing its submissions of one signal; a signal is "
        "removed when no submission is left. Expired submissions are counted when the hub's "
        "expiry check removed them, not at their expiry time (the check runs every minute by "
        "default).",
    ),
    (
        "Propagation",
        "The time from the hub receiving a change to delivering it to a member following the "
        "feed, sampled once per message sent to a follower (its newest event), counted in fixed "
        "buckets (1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, "
        "10000, 60000 ms and more). The p50 and p99 are estimated from these buckets: the report "
        "gives the bucket that holds them (nearest rank), not an exact time.",
    ),
    *SAFETY_METHOD,
    ("Suppression", SUPPRESSION_METHOD),
    (
        "Limits",
        "Usage counts are written every few seconds: a hub crash can lose the last seconds of "
        "them, never a submission. Match labels are resolved per day, not per moment.",
    ),
)
