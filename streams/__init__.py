"""gridwatch: a megacity's sensor, hotline and inspection events, joined per asset.

The folders say what each part may touch:

- ``engine/`` and ``core/``: pure rules (no faust, kafka or prometheus);
- ``runtime/``: the Faust worker that drives them over Kafka;
- ``broker/``: the Kafka tools (local broker, admin, replay, record);
- ``lab/``: engineers' tools (city generator, simulator, evaluation, benchmarks, demo);
- ``cli/``: the ``gridwatch`` command line, thin: parse, call, print;
- ``data/``: data files (engine thresholds, city names).
"""
