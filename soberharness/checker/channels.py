"""Judging the private channel matrix: every answer must be the rules' answer, and an error
(a policy that fails instead of refusing) is a finding of its own."""

from __future__ import annotations

from collections.abc import Iterable

from soberharness.records.channels import ChannelAnswer, ChannelFinding


def findings(answers: Iterable[ChannelAnswer]) -> list[ChannelFinding]:
    """The cells answered against the rules, in the order given."""
    return [ChannelFinding(a.cell, a.allowed, a.error) for a in answers
            if a.error or a.allowed != a.cell.expected]
