"""The deterministic regional simulator behind the offline `sample` mode.

It plays the data providers: it writes files in their exact formats into the landing zone,
upstream of the real readers. Every value is a pure function of the timestamp (and a seed),
so re-running gives the same bytes and any window can be generated independently.
"""
