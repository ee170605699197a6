"""Workarounds for faust-streaming behaviour we depend on (each explains the bug)."""

from __future__ import annotations

import faust


class SharedTopicGlobalTable(faust.GlobalTable):
    """A GlobalTable whose changelog is an existing topic (the compacted assets topic).

    Faust's partition assignor looks a global table's changelog up by the
    *derived* name ``<app id>-<table>-changelog`` even when the table was given
    its own ``changelog_topic``; the lookup fails inside the assignor and the
    group never finishes rebalancing (seen with faust-streaming 0.15.3). This
    class reports the real topic name instead.
    """

    def _changelog_topic_name(self) -> str:
        if self._changelog_topic is not None:
            return str(self._changelog_topic.get_topic_name())
        return str(super()._changelog_topic_name())
