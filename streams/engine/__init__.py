"""The pure risk engine: per-asset signals, scoring and the alert lifecycle.

Nothing in this package imports faust, kafka or prometheus; the Faust agents
and the offline ``gridwatch process`` command both drive it.
"""
