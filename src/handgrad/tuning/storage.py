"""Where a study lives: Optuna's relational storage, SQLite by default, PostgreSQL to share it between machines.

- ``sqlite:///<out_dir>/<study>/study.db`` (the default): one file, nothing to install or start; several
  workers on one machine may share it.
- ``postgresql://user[:password]@host[:port]/database``: workers on several machines share one study. The
  driver is the optional extra ``pip install 'handgrad[postgres]'`` (psycopg 3); a plain ``postgresql://``
  URL is read as ``postgresql+psycopg://`` (SQLAlchemy 2.0's default driver for it is psycopg2, 2.1's psycopg).

Every storage records a heartbeat of each running trial (``heartbeat`` seconds): a trial whose worker died
(SIGKILL, a lost machine) is marked failed once its heartbeat is older than ``GRACE_FACTOR * heartbeat`` and
put back in the queue with the same parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``), so that the
next worker to look runs it again.
"""
from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

# A heartbeat is late under load (2 cores shared by training threads and other workers): 3 missed beats
# before a trial counts as dead.
GRACE_FACTOR = 3
MAX_RETRY = 3  # a configuration that kills its worker every time (e.g. out of memory) is not retried forever
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# DBAPI module -> how to install it (a URL may name another driver, e.g. postgresql+psycopg2://).
DRIVERS = {"psycopg": "pip install 'handgrad[postgres]'", "psycopg2": "pip install psycopg2-binary",
           "pg8000": "pip install pg8000", "MySQLdb": "pip install mysqlclient", "pymysql": "pip install pymysql"}


def check_study_name(name) -> str:
    """A study name is also a directory name: letters, digits, '.', '_', '-' (up to 100, no leading dot)."""
    if not isinstance(name, str) or not STUDY_NAME.match(name):
        raise ValueError(f"--study must be 1-100 letters, digits, '.', '_' or '-' (not starting with '.', '_' "
                         f"or '-'), got {name!r}")
    return name


def default_url(out_dir, study: str) -> str:
    """``sqlite:///<out_dir>/<study>/study.db`` (relative paths stay relative to the working directory)."""
    return f"sqlite:///{Path(out_dir) / study / 'study.db'}"


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: nothing to hide beyond the part before '@'
        return re.sub(r"//[^@/]*@", "//***@", url)


def _missing_driver(url, error: ImportError) -> ValueError:
    cause = error.__cause__ if isinstance(error.__cause__, ImportError) else error  # Optuna re-raises its own
    module = (cause.name or "").split(".")[0] or "unknown"
    hint = DRIVERS.get(module, f"install the Python package that provides {module!r}")
    return ValueError(f"--storage {redact(url)}: the database driver {module!r} is not installed ({hint})")


def _create_once(create, sqlite_file):
    """``create()``, where workers starting together on a new database would race to create its tables.

    SQLite: the workers take turns (a lock file beside the database). Other databases: a worker that lost the
    race (the tables or their version row appeared meanwhile) tries again and finds them.
    """
    import sqlalchemy.exc

    try:
        import fcntl
    except ImportError:  # not a POSIX system: the retries below
        fcntl = None
    if sqlite_file and fcntl is not None:
        with open(f"{sqlite_file}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return create()
    for attempt in range(5):
        try:
            return create()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def open_storage(url: str, heartbeat: int = 60, create: bool = True):
    """An ``optuna.storages.RDBStorage`` on ``url`` with heartbeats and retries of dead workers' trials.

    ``create=False`` (reading a study, ``handgrad tune report``): a SQLite file that does not exist is an error,
    and nothing is created (no directory, no database, no lock file).

    Raises ``ValueError`` naming ``--storage`` (password hidden) when the URL is not a database URL, its driver is
    missing or the database cannot be reached.
    """
    import optuna
    import sqlalchemy.exc
    from optuna.exceptions import ExperimentalWarning
    from sqlalchemy.engine import make_url

    if not isinstance(heartbeat, int) or isinstance(heartbeat, bool) or heartbeat < 1:
        raise ValueError(f"--heartbeat must be a whole number of seconds >= 1, got {heartbeat!r}")
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise ValueError(f"--storage must be a database URL such as sqlite:///runs/STUDY/study.db or "
                         f"postgresql://user@host/database, got {redact(url)!r}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = parsed.render_as_string(hide_password=False)
    engine_kwargs = {}
    if parsed.get_backend_name() == "sqlite":
        if not create and (not parsed.database or parsed.database == ":memory:"
                           or not Path(parsed.database).is_file()):
            raise ValueError(f"--storage {redact(url)}: no database there ({parsed.database or 'in memory'} is not a "
                             "file); reading a study never creates one")
        if parsed.database and parsed.database != ":memory:" and create:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Several worker processes write one file: wait for a lock (SQLite's default is 5 s) rather than fail.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True  # a connection dropped by the server is replaced, not an error
    sqlite_file = parsed.database if parsed.get_backend_name() == "sqlite" and parsed.database != ":memory:" else None

    def make():
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat, grace_period=GRACE_FACTOR * heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeat and its retry callback
        try:
            return _create_once(make, sqlite_file if create else None)
        except ImportError as e:
            raise _missing_driver(url, e) from None
        except sqlalchemy.exc.NoSuchModuleError as e:
            raise ValueError(f"--storage {redact(url)}: unknown database kind ({e})") from None
        except sqlalchemy.exc.SQLAlchemyError as e:
            reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            raise ValueError(f"--storage {redact(url)}: cannot open the database: {reason}") from None
