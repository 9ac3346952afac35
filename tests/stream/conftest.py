"""The live stream tests (tests/stream).

The pure parts run without Ray and without sleeping: the feeds and their rows (on ``nepse_fakes.SAMPLES``), the
diff, a feed's log of ticks, and the schedule on a ``FakeClock``. The streams themselves run on the simulator's
live market, a pool and the session's Ray cluster (``@pytest.mark.ray``), with a second driver in a process of
its own (``stream_driver.py``); ``record`` runs on a stream without Ray (``stream_sources.py``) and is killed with
SIGKILL.
"""
