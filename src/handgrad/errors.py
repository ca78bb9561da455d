"""The errors handgrad raises on purpose: bad arguments, bad inputs, calls in the wrong order.

Every one derives from ``HandgradError`` and from the built-in exception a caller would expect
(``ValueError``, ``TypeError``, ``KeyError``, ``RuntimeError``), so ``except ValueError`` keeps working. The
message names the layer, model or argument, what was expected and what was received.

======================  ============  ==========================================================================
error                   also a        raised when
======================  ============  ==========================================================================
``ArgumentError``       ValueError    an argument's value is out of range (``batch_size=0``, ``rate=1.5``,
                                      labels outside ``[0, K)``, a layer instance already in another model)
``ArgumentTypeError``   TypeError     an argument has the wrong type or dtype (``dtype=np.int32``, float labels,
                                      a complex or string input array)
``ShapeError``          ValueError    an array does not have the shape a layer or model was built for, including
                                      an empty batch (N = 0) and wrong ranks
``NonFiniteError``      ValueError    an input holds NaN or inf (the message counts them), or a result that must
                                      be finite is not (``Sequential.loss`` and ``predict``; layers called
                                      directly)
``KeyMismatchError``    KeyError      a dict of weights lacks keys or has unexpected ones
``StateError``          RuntimeError  a method called in the wrong order (``backward`` before ``forward``)
``MissingExtraError``   ImportError   an optional package is not installed (``onnx`` for ``handgrad.export.to_onnx``);
                                      the message names the extra to install (``pip install 'handgrad[onnx]'``)
``UserCodeError``       RuntimeError  the user's own code (``--model FILE.py:FN``, ``gradcheck --user-model``)
                                      raised, exited (``sys.exit``) or returned the wrong thing; the message
                                      names the user's function and ``file:line`` (``handgrad.user_code``)
``RunFileError``        ValueError    a file of a run (checkpoint, ``config.json``, ``history.json``,
                                      ``metrics.json``) is damaged, hand-edited or not a regular file, or an
                                      output path is a link, a device or a directory; the message names the
                                      file and the field
======================  ============  ==========================================================================

Any other exception escaping a layer, a ``Sequential`` or a loss is a bug in handgrad
(``tests/test_properties.py`` feeds them random shapes, dtypes and values to find such bugs).
"""
from __future__ import annotations


class HandgradError(Exception):
    """Base class of every error handgrad raises on purpose for a bad argument or input."""


class ArgumentError(HandgradError, ValueError):
    """An argument's value is not allowed; the message names the argument, the expected and the received."""


class ArgumentTypeError(HandgradError, TypeError):
    """An argument has the wrong type or dtype."""


class ShapeError(HandgradError, ValueError):
    """An array or a layer's input does not have the shape the layer was built for."""


class NonFiniteError(HandgradError, ValueError):
    """An array holds NaN or infinite entries where finite values are required."""


class KeyMismatchError(HandgradError, KeyError):
    """A dict of parameters lacks keys or has unexpected ones."""

    def __str__(self) -> str:  # KeyError's own str() quotes the message as if it were a key
        return str(self.args[0]) if self.args else ""


class StateError(HandgradError, RuntimeError):
    """A method was called in the wrong order, e.g. ``backward`` before ``forward``."""


class MissingExtraError(HandgradError, ImportError):
    """An optional dependency is missing; the message names the package and the extra that installs it."""


class UserCodeError(HandgradError, RuntimeError):
    """The user's code raised (any exception, ``SystemExit`` included) or returned something unusable; the message
    names the user's function and file:line, the user's exception is kept as ``__cause__``."""


class RunFileError(HandgradError, ValueError):
    """A run's file is damaged or hand-edited (the message names the file and the field), or a path handgrad was
    to write is a link, a device or a directory rather than a regular file."""


DOCUMENTED = (ArgumentError, ArgumentTypeError, ShapeError, NonFiniteError, KeyMismatchError, StateError,
              MissingExtraError, UserCodeError, RunFileError)

__all__ = ["DOCUMENTED", "ArgumentError", "ArgumentTypeError", "HandgradError", "KeyMismatchError",
           "MissingExtraError", "NonFiniteError", "RunFileError", "ShapeError", "StateError", "UserCodeError"]
