"""``handgrad.errors``: every documented error is a HandgradError and the built-in exception callers expect."""
import pytest

from handgrad import errors


@pytest.mark.parametrize("cls, builtin", [(errors.ArgumentError, ValueError), (errors.ArgumentTypeError, TypeError),
                                          (errors.ShapeError, ValueError), (errors.NonFiniteError, ValueError),
                                          (errors.KeyMismatchError, KeyError), (errors.StateError, RuntimeError),
                                          (errors.MissingExtraError, ImportError)])
def test_documented_errors_derive_from_the_expected_builtin(cls, builtin):
    assert cls in errors.DOCUMENTED
    assert issubclass(cls, errors.HandgradError) and issubclass(cls, builtin)
    with pytest.raises(builtin, match="^layer x: message$"):
        raise cls("layer x: message")  # KeyError's quoting (str(KeyError("m")) == "'m'") is undone


def test_the_list_is_complete_and_the_shape_error_is_the_one_validation_raises():
    from handgrad._validation import ShapeError

    assert ShapeError is errors.ShapeError
    assert set(errors.DOCUMENTED) == {c for c in vars(errors).values()
                                      if isinstance(c, type) and issubclass(c, errors.HandgradError)} - {
        errors.HandgradError}
