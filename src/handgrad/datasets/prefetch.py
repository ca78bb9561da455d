"""``prefetched``: the next minibatches made by a background thread while the current step runs.

A training step leaves part of the second core idle (Python between the kernels, single-threaded NumPy
passes); shuffling, cropping, flipping and erasing the next batch (NumPy, which releases the GIL in its
copies) fit there. The batches are the same, in the same order, as the iterator's own: one thread runs the
whole iterator, so its generator's draws happen in the same sequence.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_DONE = object()


def prefetched(items: Iterable, depth: int = 2) -> Iterator:
    """Yield what ``items`` yields, produced up to ``depth`` items ahead in a daemon thread.

    An exception raised by ``items`` is raised here, at the item where it happened; closing this generator
    (``break``, an exception in the loop body) stops the thread after the item it is making.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as error:  # noqa: BLE001 (re-raised in the consumer)
            put((_DONE, error))
            return
        put((_DONE, None))

    worker = threading.Thread(target=produce, name="handgrad-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join()
