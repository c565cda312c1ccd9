"""Run the delivery engine inside every Celery worker process that consumes the `dispatch` queue.

With the prefork pool each child process runs its own engine (so sending uses every process's core); with the
threads or solo pool the worker's one process does. Workers that consume only other queues send nothing.
"""

import logging
from typing import TYPE_CHECKING, Any

from celery import signals
from django.conf import settings

if TYPE_CHECKING:  # imported when a worker starts: this module loads before Django's apps are ready
    from config.delivery.engine import Engine

logger = logging.getLogger(__name__)

_runs_engine = False
_in_children = False
_engine: "Engine | None" = None


@signals.worker_init.connect
def _note_queues(sender: Any, **kwargs: Any) -> None:
    global _runs_engine, _in_children
    consumed = set(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    _runs_engine = settings.SESAME_DISPATCH_QUEUE in consumed
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool

    pool = get_implementation(sender.pool_cls) if isinstance(sender.pool_cls, str) else sender.pool_cls
    _in_children = isinstance(pool, type) and issubclass(pool, TaskPool)


def _start() -> None:
    global _engine
    if _runs_engine and _engine is None:
        from config.delivery.engine import Engine

        _engine = Engine()
        _engine.start()
        logger.info("delivery engine started with %d senders", _engine.senders)


def _stop() -> None:
    global _engine
    if _engine is not None:
        _engine.stop()
        _engine = None


@signals.worker_process_init.connect
def _start_in_child(**kwargs: Any) -> None:
    if _in_children:
        _start()


@signals.worker_ready.connect
def _start_in_worker(**kwargs: Any) -> None:
    if not _in_children:
        _start()


@signals.worker_process_shutdown.connect
def _stop_in_child(**kwargs: Any) -> None:
    _stop()


@signals.worker_shutdown.connect
def _stop_in_worker(**kwargs: Any) -> None:
    _stop()
