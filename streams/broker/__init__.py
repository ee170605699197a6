"""Kafka tools: the local broker, administration, client settings, replay and record."""
