"""Faust agents: short loops of decode → logic → send."""
