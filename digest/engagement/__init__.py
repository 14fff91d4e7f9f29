"""What readers did: signed tracking links (tokens), the rules that tell readers from machines
(rules), and the batches of hits written to the store as counts (aggregation); the figures a
report shows (report)."""

from digest.engagement.aggregation import HitRecorder
from digest.engagement.rules import Judgement, Thresholds, Verdict, judge
from digest.engagement.tokens import EMAIL_CHANNEL, Link, LinkSigner, Reader, TrackedLinks

__all__ = [
    "EMAIL_CHANNEL",
    "HitRecorder",
    "Judgement",
    "Link",
    "LinkSigner",
    "Reader",
    "Thresholds",
    "TrackedLinks",
    "Verdict",
    "judge",
]
