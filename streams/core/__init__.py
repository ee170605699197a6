"""Pure rules every shell shares: settings, topics, clocks, event logs, ingest, offline runs.

Nothing here imports faust, kafka or prometheus (a unit test checks it).
"""
