"""Real Python queue, cache and session libraries writing to a real server, the way their users do.

Each ``<library>_workload(server)`` drives the installed library (never key names typed by hand) and
returns what the test should find. Functions that workers import (``add``, ``fail``) live here so that
RQ's and Celery's workers can find them by dotted name.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
import time
from typing import Any

from servers import Server


def add(x: int, y: int) -> int:
    return x + y


def fail() -> None:
    raise RuntimeError("boom")


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


# --- RQ ---------------------------------------------------------------------------------------------


def rq_workload(server: Server, *, backlog: int = 1200, results: int = 120) -> dict[str, Any]:
    """A ``low`` queue nobody works on (jobs with a TTL, as many users enqueue them), a ``default`` queue
    a burst worker drains (results kept forever, a failed job), and a scheduled job."""
    from datetime import timedelta

    from rq import Queue

    conn = server.client()
    low = Queue("low", connection=conn)
    low.enqueue_many([Queue.prepare_data(add, (i, 1), ttl=86_400) for i in range(backlog)])
    default = Queue("default", connection=conn)
    for i in range(results):
        default.enqueue(add, i, 2, result_ttl=-1)  # results kept forever
    default.enqueue(fail)
    default.enqueue_in(timedelta(hours=1), add, 1, 1)
    _burst(_QuietWorker([default], connection=conn))
    return {"backlog": backlog, "results": results}


def rq_results_workload(url: str, *, jobs: int = 600, result_ttl: int = -1) -> None:
    """``jobs`` jobs on the ``default`` queue run by a burst worker with ``result_ttl`` (-1: results and
    finished job hashes kept forever)."""
    import redis
    from rq import Queue

    conn = redis.Redis.from_url(url)
    queue = Queue("default", connection=conn)
    queue.enqueue_many([Queue.prepare_data(add, (i, 2), result_ttl=result_ttl) for i in range(jobs)])
    _burst(_QuietWorker([queue], connection=conn))
    conn.close()


def _quiet_worker() -> Any:
    from rq import SimpleWorker

    class QuietWorker(SimpleWorker):
        """RQ's SimpleWorker (no fork per job: the same keys, faster) without its command channel:
        stopping that Pub/Sub thread can take its full 60 s poll; it writes no keys."""

        def subscribe(self) -> None:
            return None

    return QuietWorker


def _QuietWorker(*args: Any, **kwargs: Any) -> Any:
    return _quiet_worker()(*args, **kwargs)


def _burst(worker: Any) -> None:
    """``worker.work(burst=True)``, with the process's SIGINT/SIGTERM handlers put back after: RQ
    installs its own (warm/cold shutdown) on the main thread and leaves them, so that a later test's
    signal would stop a worker long gone instead of reaching the code under test."""
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.work(burst=True)
    finally:
        for sig, handler in kept.items():
            if handler is not None:  # (None: a handler not set from Python, which RQ cannot have replaced)
                signal.signal(sig, handler)


# --- Celery (kombu) ---------------------------------------------------------------------------------


def celery_workload(server: Server, *, backlog: int = 1200, results: int = 120) -> dict[str, Any]:
    """Tasks routed to a ``reports`` queue with no consumer, tasks on ``celery`` run by an in-process
    worker (results in the Redis backend), and a Lua script kombu/celery load on the way."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    url = server.url
    app = Celery("ikdemo", broker=url, backend=url)
    app.conf.update(
        task_routes={"ikdemo.report": {"queue": "reports"}},
        result_expires=None,  # results never expire: what insightkit should point at
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name="ikdemo.add", shared=False)  # a second app in this process must not inherit it
    def add_task(x: int, y: int) -> int:
        return x + y

    @app.task(name="ikdemo.report", shared=False)
    def report(n: int) -> int:
        return n

    for i in range(backlog):
        report.delay(i)
    with start_worker(app, queues=["celery"], perform_ping_check=False, pool="solo", loglevel="WARNING"):
        pending = [add_task.delay(i, 1) for i in range(results)]
        for r in pending:
            r.get(timeout=60)
    app.close()
    return {"backlog": backlog, "results": results}


def celery_results_workload(url: str, *, tasks: int = 600, result_expires: int | None = None) -> None:
    """``tasks`` tasks run by an in-process worker, their results in the Redis backend for
    ``result_expires`` seconds (None: forever)."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    app = Celery("ikresults", broker=url, backend=url)
    app.conf.update(
        result_expires=result_expires,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name="ikresults.report", shared=False)  # per-app: run twice without a duplicate-name warning
    def report(n: int) -> dict[str, Any]:
        return {"rows": n, "path": f"/exports/report-{n}.csv", "status": "done"}

    with start_worker(app, queues=["celery"], perform_ping_check=False, pool="solo", loglevel="WARNING"):
        pending = [report.delay(i) for i in range(tasks)]
        for result in pending:
            result.get(timeout=60)
    app.close()


# --- dramatiq ---------------------------------------------------------------------------------------


def dramatiq_workload(server: Server, *, backlog: int = 1200) -> dict[str, Any]:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=server.url)
    dramatiq.set_broker(broker)

    @dramatiq.actor(queue_name="exports", broker=broker)
    def export(n: int) -> None:  # never run: a queue without a worker
        pass

    for i in range(backlog):
        export.send(i)
    export.send_with_options(args=(1,), delay=3_600_000)
    broker.close()
    return {"backlog": backlog}


# --- huey -------------------------------------------------------------------------------------------


def huey_workload(server: Server, *, tasks: int = 2400) -> dict[str, Any]:
    """Tasks enqueued, half of them executed in-process: their results stay in huey's results hash
    (nobody reads them), the other half wait in the queue."""
    from huey import RedisHuey

    huey = RedisHuey("ikapp", url=server.url)

    @huey.task()
    def square(n: int) -> int:
        return n * n

    for i in range(tasks):
        square(i)
    for _ in range(tasks // 2):  # a worker ran half of them
        task = huey.dequeue()
        if task is not None:
            huey.execute(task)
    square.schedule((3,), delay=3600)
    return {"tasks": tasks}


def huey_results_workload(url: str, *, tasks: int = 2400, expire_time: int | None = None) -> None:
    """Tasks enqueued, half of them executed in-process, their results unread: in huey's results
    hash (RedisHuey), or one key each with a TTL (RedisExpireHuey(expire_time=…))."""
    from huey import RedisExpireHuey, RedisHuey

    huey = (
        RedisHuey("ikapp", url=url)
        if expire_time is None
        else RedisExpireHuey("ikapp", url=url, expire_time=expire_time)
    )

    @huey.task()
    def square(n: int) -> int:
        return n * n

    for i in range(tasks):
        square(i)
    for _ in range(tasks // 2):
        task = huey.dequeue()
        if task is not None:
            huey.execute(task)
    huey.storage.conn.connection_pool.disconnect()


# --- Django cache and sessions (django-redis) -------------------------------------------------------


def django_workload(server: Server, *, objects: int = 400, sessions: int = 60) -> dict[str, Any]:
    """The object cache (half of it without a TTL), cache_page, a template fragment and cached sessions."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="insightkit-test",
            ALLOWED_HOSTS=["*"],
            USE_TZ=True,
            TIME_ZONE="America/Chicago",
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.sessions", "django.contrib.contenttypes"],
            SESSION_ENGINE="django.contrib.sessions.backends.cache",
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "OPTIONS": {}}],
            CACHES={
                "default": {
                    "BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": server.url,
                }
            },
        )
        django.setup()
    from django.core.cache import caches
    from django.test import RequestFactory
    from django.utils.cache import get_cache_key, learn_cache_key, patch_response_headers

    cache = caches["default"]
    for i in range(objects):
        cache.set(f"product:{i}", {"id": i, "name": f"p{i}"}, timeout=None if i % 2 else 300)
    from django.contrib.sessions.backends.cache import SessionStore

    for i in range(sessions):
        s = SessionStore()
        s["user"] = i
        s.save()
    from django.core.cache.utils import make_template_fragment_key
    from django.http import HttpResponse

    for i in range(10):
        cache.set(make_template_fragment_key("sidebar", [i]), "<div>…</div>", timeout=600)
    factory = RequestFactory()
    for i in range(10):
        request = factory.get(f"/products/{i}")
        response = HttpResponse("ok")
        patch_response_headers(response, 600)
        key = learn_cache_key(request, response, 600, cache=cache)
        cache.set(key, response, 600)
        assert get_cache_key(request, cache=cache) == key
    return {"objects": objects, "sessions": sessions}


def django_cache(url: str, **params: Any) -> Any:
    """A django-redis cache on ``url`` with its own ``TIMEOUT``/``VERSION``/… (``params``), whatever
    the process' Django settings name as the default cache."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="insightkit-test",
            USE_TZ=True,
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        )
        django.setup()
    from django_redis.cache import RedisCache

    return RedisCache(url, params)


urlpatterns: list[Any] = []


# --- Flask-Session ----------------------------------------------------------------------------------


def flask_session_workload(server: Server, *, sessions: int = 40) -> dict[str, Any]:
    from flask import Flask, session
    from flask_session import Session

    app = Flask("ikflask")
    app.config.update(SESSION_TYPE="redis", SESSION_REDIS=server.client(), SECRET_KEY="k")
    Session(app)

    @app.route("/")
    def index() -> str:
        session["n"] = session.get("n", 0) + 1
        return "ok"

    for _ in range(sessions):
        with app.test_client() as client:
            client.get("/")
    return {"sessions": sessions}


# --- limits -----------------------------------------------------------------------------------------


def limits_workload(server: Server, *, clients: int = 30) -> dict[str, Any]:
    from limits import parse, storage, strategies

    store = storage.storage_from_string(server.url)
    fixed = strategies.FixedWindowRateLimiter(store)
    moving = strategies.MovingWindowRateLimiter(store)
    per_minute = parse("10/minute")
    for i in range(clients):
        for _ in range(3):
            fixed.hit(per_minute, "api", str(i))
            moving.hit(per_minute, "login", str(i))
    return {"clients": clients}


def run_in_thread(target: Any, *args: Any, timeout: float = 60) -> None:
    """Run ``target`` on a thread and wait (some workers install signal handlers only on the main
    thread; this keeps them from touching pytest's)."""
    errors: list[BaseException] = []

    def wrapped() -> None:
        try:
            target(*args)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=wrapped, daemon=True)
    thread.start()
    thread.join(timeout)
    if errors:
        raise errors[0]


__all__ = ["add", "fail", "installed", "os", "time"]
