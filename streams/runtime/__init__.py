"""The Faust worker: app wiring, agents, HTTP views and metrics around the pure core."""
