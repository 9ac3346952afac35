"""Live streams, the parts without Ray: what can be streamed, what changed between two polls, and what a
subscriber receives.

* :mod:`.feeds`: the table of feeds (``live_market``, ``nepse_index``, ``sub_indices``, ``market_depth``,
  ``index_intraday``): the endpoint each polls, its rows, their keys and Arrow schema; :class:`FeedKey`.
* :mod:`.diff`: a poll's rows against the last state: the rows that changed.
* :mod:`.log`: :class:`FeedLog`, a feed's rows and its last ticks, read at each subscriber's cursor.
* :mod:`.tick`: :class:`Tick` (``to_arrow()``, ``to_pandas()``), :class:`MarketState`, :class:`Delivery`.

The schedule (who subscribes, when to poll, the budget) is the coordinator's (:mod:`nepse_ray.pool.schedule`), and
``api.stream(...)`` (:mod:`nepse_ray.pool.subscription`) is the iterator a subscriber holds.
"""

from .feeds import FEEDS, FeedKey, feed_key
from .log import FeedLog
from .tick import Cursor, Delivery, MarketState, Tick

__all__ = ["FEEDS", "Cursor", "Delivery", "FeedKey", "FeedLog", "MarketState", "Tick", "feed_key"]
