"""The overall score of an answer and its merged findings.

overall = round(0.6 x content + 0.4 x delivery), as the API promises (60/40).

Findings: content first, then delivery, at most 4 strengths and 4 improvements,
each list keeping its own order (most important first). When both have more
than fit, delivery keeps up to 2 of the 4 places, so a serious delivery problem
is never crowded out by content findings (and the other way round).
"""

from __future__ import annotations

from server.domain.analysis.types import ContentFeedback, DeliveryMetrics, Finding

CONTENT_WEIGHT = 0.6
DELIVERY_WEIGHT = 0.4
MAX_FINDINGS = 4
DELIVERY_SHARE = 2


def overall_score(delivery: int, content: int) -> int:
    return max(0, min(100, round(CONTENT_WEIGHT * content + DELIVERY_WEIGHT * delivery)))


def merge_findings(content: list[Finding], delivery: list[Finding]) -> list[Finding]:
    """Content first; delivery keeps up to DELIVERY_SHARE places when both overflow."""
    from_delivery = min(len(delivery), DELIVERY_SHARE)
    from_content = min(len(content), MAX_FINDINGS - from_delivery)
    from_delivery = min(len(delivery), MAX_FINDINGS - from_content)
    return content[:from_content] + delivery[:from_delivery]


def combine(
    delivery: DeliveryMetrics, content: ContentFeedback
) -> tuple[int, list[Finding], list[Finding]]:
    """(overall score, strengths, improvements) of one answer."""
    return (
        overall_score(delivery.score, content.score),
        merge_findings(content.strengths, delivery.strengths),
        merge_findings(content.improvements, delivery.improvements),
    )
